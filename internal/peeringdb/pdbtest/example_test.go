package pdbtest_test

import (
	"log"
	"os"
	"os/signal"

	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// How `make dev` (hack/devenv) serves the sample: point the operator at
// srv.BaseURL (here http://127.0.0.1:8089/api).
func ExampleStart() {
	srv, err := pdbtest.Start("127.0.0.1:8089", pdbtest.Options{Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	log.Printf("PeeringDB test server on %s", srv.BaseURL)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
}
