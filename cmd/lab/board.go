package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/board"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/verify"
)

func (a *app) boardCmd() *cobra.Command {
	var addr string
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "board [<lab>...]",
		Short: "Serve the instructor's live page: every learner's checks, read again every few seconds",
		Long: `board serves, on this machine's loopback address, a page with one row
per learner and one column per check of the labs with learners (for_each
or count), as lab verify --all-learners prints them, read from the
cluster again every few seconds. Click a failed check for its failure
and hint. It only reads the cluster: the view ClusterRole is enough.
Ctrl-C stops it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Board()
			serverGC()
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return exit(exitFailed, fmt.Errorf("--addr %q: %v; write it as 127.0.0.1:7357", addr, err))
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return exit(exitFailed, fmt.Errorf("--addr %q: lab board serves on the loopback address only (127.0.0.1): the page shows every learner's work to whoever reaches it", addr))
			}
			if every < time.Second {
				return exit(exitFailed, fmt.Errorf("--every %s: read the cluster at most once a second", every))
			}
			cfg, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			if labs, err = a.learnerLabs(cfg, labs, ""); err != nil {
				return err
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return err
			}
			b := &board.Board{Title: a.displayPath(cfg), Every: every, Read: func(ctx context.Context) (*report.Learners, error) {
				src := verify.NewCluster(client)
				src.AllNamespaces = true
				return report.LearnerTable(verify.Run(ctx, labs, verify.Options{Source: src, Once: true})), nil
			}}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("lab board cannot listen on %s: %w; choose another port with --addr 127.0.0.1:PORT", addr, err)
			}
			srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			v.Serving("http://"+ln.Addr().String()+"/", every)
			select {
			case err := <-served:
				return fmt.Errorf("lab board stopped serving: %w", err)
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:7357", "where to serve the page (a loopback address; port 0 picks a free one)")
	cmd.Flags().DurationVar(&every, "every", 3*time.Second, "how often the page reads the cluster again")
	a.varFlags(cmd.Flags())
	return cmd
}
