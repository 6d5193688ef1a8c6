// Package coldstart measures the simulated runtime's start, apart from
// the package tests (whose shared cluster would compete for the CPUs):
//
//	go test -run '^$' -bench . -benchtime 3x ./providers/simulated/coldstart
package coldstart

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"labs.dev/lab/providers/simulated"
)

// BenchmarkColdStart creates a cluster from nothing (PKI, etcd data,
// add-ons) to usable: /readyz, node Ready, default ServiceAccount, kind's
// kube-system pods Running. It reports the processes' total RSS then.
func BenchmarkColdStart(b *testing.B) {
	if _, err := simulated.BinDir(); err != nil {
		b.Skip(err)
	}
	var rss float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		o := simulated.Options{Name: "bench", Dir: filepath.Join(dir, "cluster"), Kubeconfig: filepath.Join(dir, "kubeconfig"), Wait: 2 * time.Minute}
		b.StartTimer()
		if _, err := simulated.Create(context.Background(), o); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rss += sumRSS(b, o.Dir)
		if err := simulated.Delete(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rss/float64(b.N), "MiB-RSS")
}

// BenchmarkRestart stops a cluster and starts it on its data, as
// `lab up` does after a reboot.
func BenchmarkRestart(b *testing.B) {
	if _, err := simulated.BinDir(); err != nil {
		b.Skip(err)
	}
	dir := b.TempDir()
	o := simulated.Options{Name: "bench", Dir: filepath.Join(dir, "cluster"), Kubeconfig: filepath.Join(dir, "kubeconfig"), Wait: 2 * time.Minute}
	ctx := context.Background()
	if _, err := simulated.Create(ctx, o); err != nil {
		b.Fatal(err)
	}
	defer simulated.Delete(ctx, o)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := simulated.Stop(ctx, o.Dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := simulated.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Settled: after the start's bursts are collected.
	time.Sleep(10 * time.Second)
	b.ReportMetric(sumRSS(b, o.Dir), "MiB-RSS-settled")
}

func sumRSS(b *testing.B, dir string) float64 {
	st, err := simulated.Status(dir)
	if err != nil {
		b.Fatal(err)
	}
	var kib int
	for name, pid := range st.PIDs {
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		for _, line := range strings.Split(string(s), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				n, _ := strconv.Atoi(f[1])
				kib += n
			}
		}
	}
	return float64(kib) / 1024
}
