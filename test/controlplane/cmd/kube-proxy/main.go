// kube-proxy, exactly as k8s.io/kubernetes/cmd/kube-proxy builds it, from the Kubernetes version
// this module pins (test/harness/node.ts starts it in the node's network namespace).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
