package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRunMetrics(t *testing.T) {
	const body = `# HELP moor_run_duration_seconds Duration of one run of a source's pipeline.
# TYPE moor_run_duration_seconds histogram
moor_run_duration_seconds_bucket{source="other",le="0.005"} 0
moor_run_duration_seconds_sum{source="other"} 99
moor_run_duration_seconds_count{source="other"} 99
moor_run_duration_seconds_bucket{source="moorbench-ab12-poll",le="0.005"} 0
moor_run_duration_seconds_sum{source="moorbench-ab12-poll"} 1.25
moor_run_duration_seconds_count{source="moorbench-ab12-poll"} 12
moor_runs_total{result="noop",source="moorbench-ab12-poll"} 11
moor_runs_total{result="success",source="moorbench-ab12-poll"} 1
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }))
	defer srv.Close()
	got, err := runMetrics(t.Context(), srv.URL, "moorbench-ab12-poll")
	if err != nil {
		t.Fatal(err)
	}
	if want := (runStats{sum: 1.25, count: 12, noops: 11}); got != want {
		t.Errorf("runMetrics = %+v, want %+v", got, want)
	}
	if _, err := runMetrics(t.Context(), srv.URL, "missing"); err == nil {
		t.Error("runMetrics of a source /metrics does not have: no error")
	}
}
