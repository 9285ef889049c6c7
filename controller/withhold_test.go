package controller_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/moor-dev/moor/controller"
)

// fill sets every exported string of v, however deep in structs, pointers,
// maps and slices, to s.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s)
			}
		}
	case reflect.Slice:
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, s)
		v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), e))
	case reflect.Map:
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, s)
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, "key")
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// leaks lists the JSON paths of doc whose value contains secret.
func leaks(doc any, path, secret string, out *[]string) {
	switch d := doc.(type) {
	case string:
		if strings.Contains(d, secret) {
			*out = append(*out, path)
		}
	case map[string]any:
		for k, v := range d {
			leaks(v, path+"."+k, secret, out)
		}
	case []any:
		for _, v := range d {
			leaks(v, path+"[]", secret, out)
		}
	}
}

// TestReportWithoutOutput: every message of a report, the ones added later
// included, loses the output it quotes; what is left is what names the
// source, revisions, services, containers and operations, which output
// never reaches.
func TestReportWithoutOutput(t *testing.T) {
	const secret = "hunter2"
	var r controller.SourceReport
	fill(reflect.ValueOf(&r).Elem(), fmt.Sprintf("x; last output: %q", secret))
	b, err := json.Marshal(r.WithoutOutput())
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	json.Unmarshal(b, &doc)
	var got []string
	leaks(doc, "", secret, &got)
	sort.Strings(got)
	want := []string{
		".applied", ".drift[]", ".error_class", ".path", ".ref", ".repo", ".result", ".revision",
		".rolling.revision", ".rolling.services[]", ".warnings[].revision",
		".service_states[].containers[].health", ".service_states[].containers[].id",
		".service_states[].containers[].image", ".service_states[].containers[].name",
		".service_states[].containers[].revision", ".service_states[].containers[].state",
		".service_states[].service", ".service_states[].stack", ".service_states[].state",
		".source", ".subject", ".failures.key.revision", ".failures.key.hash",
		".failures.key.image", ".failures.key.digest", ".last_image_check.revision",
		".last_image_check.updated[].stack", ".last_image_check.updated[].service",
		".last_image_check.updated[].image", ".last_image_check.updated[].from", ".last_image_check.updated[].to",
		// Ops and suspensions, as drift is: no container writes them.
		".suspended[].by", ".suspended[].stack", ".waiting[]", ".window",
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields that keep what output they hold:\n got %q\nwant %q\n(a new free-text field needs WithoutOutput)", got, want)
	}
	// The original is left as it was.
	if !strings.Contains(r.Error, secret) || !strings.Contains(r.Services[0].Reason, secret) {
		t.Error("WithoutOutput changed its receiver")
	}
}
