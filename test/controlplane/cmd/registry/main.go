// registry: an in-memory OCI distribution registry (go-containerregistry's pkg/registry) for tests
// of Model sources oci://host:port/repository:tag. Prints "listening on <host:port>" once serving.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", l.Addr())
	server := &http.Server{Handler: registry.New(registry.Logger(log.New(os.Stderr, "registry: ", log.LstdFlags)))}
	log.Fatal(server.Serve(l))
}
