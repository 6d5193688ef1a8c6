// Command web is lab's sample web server. The offline node image preloads
// it under the reference the shipped chart and the deploy-fleet solution
// name (docker.io/library/nginx:1.27), so their pods run with no registry;
// the image's labels say what it really is. Like nginx's image it serves
// /usr/share/nginx/html on port 80 and logs one line per request.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("listen", ":80", "address to serve on")
	root := flag.String("root", "/usr/share/nginx/html", "directory of the files served")
	flag.Parse()
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	files := http.FileServer(http.Dir(*root))
	srv := &http.Server{
		Addr:              *addr,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &status{ResponseWriter: w, code: http.StatusOK}
			rec.Header().Set("Server", "lab-sample-web")
			files.ServeHTTP(rec, r)
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			// nginx's combined log format, so `kubectl logs` reads as it does on kind.
			log.Printf("%s - - [%s] %q %d %d %q %q", host, time.Now().Format("02/Jan/2006:15:04:05 -0700"),
				r.Method+" "+r.RequestURI+" "+r.Proto, rec.code, rec.n, r.Referer(), r.UserAgent())
		}),
	}
	fmt.Fprintf(os.Stderr, "lab sample web server: serving %s on %s\n", *root, *addr)
	log.Fatal(srv.ListenAndServe())
}

// status records what a handler answered, for the access log.
type status struct {
	http.ResponseWriter
	code int
	n    int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }
func (s *status) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.n += n
	return n, err
}
