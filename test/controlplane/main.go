// edgellm-controlplane runs a real Kubernetes control plane for tests and demos, the way
// controller-runtime's envtest does: etcd (embedded, go.etcd.io/etcd/server/v3/embed) and
// kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver/app) in one process, on loopback, with
// a generated CA, serving certificate, service-account keys and client certificates for a
// fixed set of identities (admin in system:masters, the operator, an agent), RBAC
// authorization and the ServiceAccount admission plugin off (there is no controller manager
// to create service-account tokens).
//
// Everything lives under --dir: pki/, etcd/, one <identity>.kubeconfig per identity and
// controlplane.json, which says where the server is. The process runs until SIGTERM/SIGINT
// (or, with --exit-on-stdin-eof, until its stdin closes).
//
// With --node-name it is the control plane of a real test node (test/harness/node.ts): it also
// writes identities for that node's kubelet and kube-proxy, kube-controller-manager and
// kube-scheduler (the users Kubernetes' default RBAC binds), a client certificate the API server
// presents to the kubelet (logs, exec), and turns on what a cluster with nodes needs: Node
// authorization, the ServiceAccount and NodeRestriction admission plugins, and the `kubernetes`
// Service's endpoint reconciler (--address must then be an address the node's pods can reach).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

const (
	serviceCIDR = "10.0.0.0/24"
	// serviceIP is the first address of serviceCIDR, the `kubernetes` service.
	serviceIP       = "10.0.0.1"
	etcdStartLimit  = 60 * time.Second
	readyPollPeriod = 100 * time.Millisecond
	readyLimit      = 5 * time.Minute
)

// identity is one client-certificate user the control plane trusts.
type identity struct {
	Name   string   `json:"name"`
	User   string   `json:"user"`
	Groups []string `json:"groups"`
}

// identities: admin bypasses RBAC through system:masters; operator and agent get only what
// Roles bound to their user or group grant, so RBAC is really exercised.
var identities = []identity{
	{Name: "admin", User: "edgellm-admin", Groups: []string{"system:masters"}},
	{Name: "operator", User: "edgellm-operator", Groups: []string{"edgellm:operators"}},
	{Name: "agent", User: "edgellm-agent", Groups: []string{"edgellm:agents"}},
}

// nodeIdentities are added with --node-name: the node's components, as Kubernetes' default
// RBAC (and the Node authorizer, for system:nodes) expect them.
func nodeIdentities(nodeName string) []identity {
	return []identity{
		{Name: "kubelet", User: "system:node:" + nodeName, Groups: []string{"system:nodes"}},
		{Name: "kube-proxy", User: "system:kube-proxy", Groups: nil},
		{Name: "kube-controller-manager", User: "system:kube-controller-manager", Groups: nil},
		{Name: "kube-scheduler", User: "system:kube-scheduler", Groups: nil},
	}
}

// kubeletClient is the identity the API server presents to kubelets (logs, exec, port-forward).
var kubeletClient = identity{Name: "kube-apiserver-kubelet-client", User: "kube-apiserver-kubelet-client", Groups: []string{"system:masters"}}

// separateEtcd describes the etcd that --separate-etcd-for starts: kube-apiserver stores the
// listed resources there (--etcd-servers-overrides), so its space can run out alone.
type separateEtcd struct {
	URL string `json:"url"`
	// Resources as kube-apiserver's overrides name them: group/resource, "" for the core group.
	Resources  []string `json:"resources"`
	QuotaBytes int64    `json:"quotaBytes"`
}

// state is written to <dir>/controlplane.json once the certificates and kubeconfigs exist.
type state struct {
	PID    int    `json:"pid"`
	Server string `json:"server"`
	CAFile string `json:"caFile"`
	// Files other components need by name: ca.crt, ca.key, sa.key, sa.pub, serving.crt, ...
	Files       map[string]string `json:"files"`
	NodeName    string            `json:"nodeName,omitempty"`
	ServiceCIDR string            `json:"serviceCidr"`
	EtcdURL     string            `json:"etcdUrl"`
	// EtcdQuotaBytes is that etcd's space quota (--etcd-quota-bytes; 0: etcd's default).
	EtcdQuotaBytes int64 `json:"etcdQuotaBytes"`
	// SeparateEtcd is the second etcd that stores the resources of --separate-etcd-for, if any.
	SeparateEtcd *separateEtcd     `json:"separateEtcd,omitempty"`
	Kubeconfigs  map[string]string `json:"kubeconfigs"`
	Identities   []identity        `json:"identities"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "edgellm-controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "state directory (certificates, etcd data, kubeconfigs); default: a new temporary directory, removed on exit")
	port := flag.Int("port", 0, "kube-apiserver secure port on 127.0.0.1 (0: a free port)")
	address := flag.String("address", "127.0.0.1", "address kube-apiserver listens on and advertises (with --node-name: one the node and its pods reach)")
	nodeName := flag.String("node-name", "", "also serve the test node of this name: identities for its kubelet, kube-proxy, controller manager and scheduler; Node authorization, ServiceAccount admission")
	separateFor := flag.String("separate-etcd-for", "", "comma-separated group/resource list (\"/configmaps,/secrets\"; \"\" is the core group) that kube-apiserver stores in a second etcd of their own (--etcd-servers-overrides)")
	etcdQuota := flag.Int64("etcd-quota-bytes", 0, "space quota of the etcd that stores everything (but --separate-etcd-for's resources): past it etcd raises its NOSPACE alarm and kube-apiserver refuses every write it stores (0: etcd's default, 2 GiB)")
	separateQuota := flag.Int64("separate-etcd-quota-bytes", 0, "space quota of that second etcd: past it etcd raises its NOSPACE alarm and refuses writes (0: etcd's default, 2 GiB)")
	exitOnStdinEOF := flag.Bool("exit-on-stdin-eof", false, "shut down when stdin closes: a parent that holds the pipe and dies (even by SIGKILL) takes the control plane with it")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [--dir DIR] [--port N] [-- extra kube-apiserver flags]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	started := time.Now()
	if *exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "edgellm-controlplane: stdin closed, shutting down")
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		}()
	}

	removeDir := false
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "edgellm-controlplane-")
		if err != nil {
			return err
		}
		*dir, removeDir = tmp, true
	}
	if removeDir {
		defer os.RemoveAll(*dir)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	*dir = abs
	pkiDir := filepath.Join(*dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}

	apiPort := *port
	if apiPort == 0 {
		if apiPort, err = freePort(); err != nil {
			return err
		}
	}
	ip := net.ParseIP(*address)
	if ip == nil {
		return fmt.Errorf("--address %q is not an IP address", *address)
	}
	server := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(apiPort))
	ids := identities
	if *nodeName != "" {
		ids = append(append([]identity{}, identities...), nodeIdentities(*nodeName)...)
	}

	files, kubeconfigs, err := writePKI(*dir, pkiDir, server, ip, ids, *nodeName != "")
	if err != nil {
		return err
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(*dir, "etcd"), *etcdQuota)
	if err != nil {
		return err
	}
	defer etcd.Close()
	var separate *separateEtcd
	var overrides []string
	if *separateFor != "" {
		second, url, err := startEtcd(filepath.Join(*dir, "etcd-separate"), *separateQuota)
		if err != nil {
			return err
		}
		defer second.Close()
		separate = &separateEtcd{URL: url, QuotaBytes: *separateQuota}
		for _, r := range strings.Split(*separateFor, ",") {
			if r = strings.TrimSpace(r); r == "" {
				continue
			}
			if !strings.Contains(r, "/") {
				return fmt.Errorf("--separate-etcd-for: %q is not group/resource (\"/configmaps\" for the core group)", r)
			}
			separate.Resources = append(separate.Resources, r)
			overrides = append(overrides, r+"#"+url)
		}
	}

	st := state{PID: os.Getpid(), Server: server, CAFile: files["ca.crt"], Files: files, NodeName: *nodeName, ServiceCIDR: serviceCIDR, EtcdURL: etcdURL, EtcdQuotaBytes: *etcdQuota, SeparateEtcd: separate, Kubeconfigs: kubeconfigs, Identities: ids}
	stJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if _, err := writeFile(*dir, "controlplane.json", append(stJSON, '\n')); err != nil {
		return err
	}

	args := []string{
		"--advertise-address=" + ip.String(),
		"--bind-address=" + ip.String(),
		"--secure-port=" + strconv.Itoa(apiPort),
		"--etcd-servers=" + etcdURL,
		"--cert-dir=" + pkiDir,
		"--tls-cert-file=" + files["serving.crt"],
		"--tls-private-key-file=" + files["serving.key"],
		"--client-ca-file=" + files["ca.crt"],
		"--service-account-key-file=" + files["sa.pub"],
		"--service-account-signing-key-file=" + files["sa.key"],
		"--service-account-issuer=https://kubernetes.default.svc",
		"--api-audiences=https://kubernetes.default.svc",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
	}
	if *nodeName == "" {
		// No controller manager creates service accounts, nothing serves the `kubernetes` Service.
		args = append(args,
			"--authorization-mode=RBAC",
			"--disable-admission-plugins=ServiceAccount",
			"--endpoint-reconciler-type=none",
		)
	} else {
		args = append(args,
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--endpoint-reconciler-type=lease",
			"--kubelet-client-certificate="+files[kubeletClient.Name+".crt"],
			"--kubelet-client-key="+files[kubeletClient.Name+".key"],
			"--kubelet-preferred-address-types=InternalIP",
		)
	}
	if len(overrides) > 0 {
		args = append(args, "--etcd-servers-overrides="+strings.Join(overrides, ","))
	}
	args = append(args, flag.Args()...)

	fmt.Fprintf(os.Stderr, "edgellm-controlplane: etcd %s, kube-apiserver %s, state in %s\n", etcdURL, server, *dir)
	go reportReady(server, files["ca.crt"], kubeconfigs["admin"], started)

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	return cmd.Execute()
}

// writePKI creates the CA, the serving certificate, the service-account key pair, one client
// certificate and kubeconfig per identity (and, for a node, the API server's kubelet client
// certificate). It returns file paths by name and kubeconfig paths by identity.
func writePKI(dir, pkiDir, server string, address net.IP, ids []identity, node bool) (map[string]string, map[string]string, error) {
	ca, err := newCA()
	if err != nil {
		return nil, nil, err
	}
	serving, err := newServingCert(ca, address)
	if err != nil {
		return nil, nil, err
	}
	saKey, saKeyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	pemFiles := map[string][]byte{
		"ca.crt":      ca.certPEM,
		"ca.key":      ca.keyPEM,
		"serving.crt": serving.certPEM,
		"serving.key": serving.keyPEM,
		"sa.key":      saKeyPEM,
		"sa.pub":      pemBlock("PUBLIC KEY", saPubDER),
	}
	if node {
		client, err := newClientCert(ca, kubeletClient.User, kubeletClient.Groups)
		if err != nil {
			return nil, nil, err
		}
		pemFiles[kubeletClient.Name+".crt"] = client.certPEM
		pemFiles[kubeletClient.Name+".key"] = client.keyPEM
	}
	files := map[string]string{}
	for name, data := range pemFiles {
		if files[name], err = writeFile(pkiDir, name, data); err != nil {
			return nil, nil, err
		}
	}
	kubeconfigs := map[string]string{}
	for _, id := range ids {
		client, err := newClientCert(ca, id.User, id.Groups)
		if err != nil {
			return nil, nil, err
		}
		if kubeconfigs[id.Name], err = writeFile(dir, id.Name+".kubeconfig", kubeconfig(server, ca.certPEM, id, client)); err != nil {
			return nil, nil, err
		}
	}
	return files, kubeconfigs, nil
}

func kubeconfig(server string, caPEM []byte, id identity, client *keyPair) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: edgellm
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: %s
  context:
    cluster: edgellm
    user: %s
    namespace: default
current-context: %s
`, server, b64(caPEM), id.User, b64(client.certPEM), b64(client.keyPEM), id.Name, id.User, id.Name))
}

func startEtcd(dataDir string, quotaBytes int64) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "edgellm"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{dataDir + ".log"}
	// A throwaway single-member store: no fsync wait on every write.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = quotaBytes

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("etcd: %w", err)
	case <-time.After(etcdStartLimit):
		e.Close()
		return nil, "", errors.New("etcd did not become ready")
	}
	return e, clientURL.String(), nil
}

// reportReady polls /readyz (readable without credentials) and prints one line for people
// running the control plane by hand; the test harness does its own polling.
func reportReady(server, caFile, adminKubeconfig string, started time.Time) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx, cancel := context.WithTimeout(context.Background(), readyLimit)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := client.Get(server + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintf(os.Stderr, "edgellm-controlplane: ready in %.1fs; admin kubeconfig: %s\n", time.Since(started).Seconds(), adminKubeconfig)
				return
			}
		}
		time.Sleep(readyPollPeriod)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
