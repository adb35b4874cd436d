// Command hello is the reference server of the page load test
// (scripts/pages.sh, docs/PERFORMANCE.md): a Go net/http hello-world
// handler writing a fixed body of -size bytes, as little as a page can cost.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	size := flag.Int("size", 20000, "body size in bytes")
	flag.Parse()
	body := make([]byte, *size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	n := strconv.Itoa(len(body))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", n)
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
