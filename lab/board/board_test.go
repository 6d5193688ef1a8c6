package board

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/verify"
)

// Viewers that ask at once share one reading of the cluster.
func TestOneReadingServesEveryViewer(t *testing.T) {
	var reads atomic.Int32
	release := make(chan struct{})
	b := &Board{Title: "labs.hcl", Every: time.Hour, Read: func(context.Context) (*report.Learners, error) {
		reads.Add(1)
		<-release
		return report.LearnerTable(&verify.Result{Labs: []verify.LabResult{
			{Name: `fleet["alice"]`, Lab: "fleet", Learner: "alice", Checks: []verify.CheckResult{{Name: "deployment", Status: verify.Passed}}},
			{Name: `fleet["bob"]`, Lab: "fleet", Learner: "bob", Checks: []verify.CheckResult{{Name: "deployment", Status: verify.Failed, Failures: []verify.Failure{{Message: "no Deployment named fleet", Hint: "kubectl apply -f fleet.yaml"}}}}},
		}}), nil
	}}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()

	var wg sync.WaitGroup
	bodies := make([]string, 5)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/results")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i] = string(b)
		}()
	}
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Errorf("%d readings for 5 viewers at once, want 1", n)
	}
	var rd struct {
		Table report.Learners `json:"table"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &rd); err != nil {
		t.Fatal(err)
	}
	if len(rd.Table.Rows) != 2 || rd.Table.Rows[1].Cells[0].Hint != "kubectl apply -f fleet.yaml" {
		t.Errorf("table %+v", rd.Table)
	}

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<title>labs.hcl — lab board</title>") || !strings.Contains(string(page), "const every =  3600000 ;") {
		t.Errorf("page:\n%s", page)
	}
}
