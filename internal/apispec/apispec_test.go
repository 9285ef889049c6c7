package apispec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSpec = `openapi: 3.0.3
paths:
  /items/{id}:
    get:
      responses:
        "200":
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Item"}
        default:
          content:
            application/json:
              schema: {type: object, additionalProperties: false, required: [error], properties: {error: {type: string}}}
components:
  schemas:
    Item:
      type: object
      additionalProperties: false
      required: [version, name, tags]
      properties:
        version: {type: integer, enum: [1]}
        name: {type: string}
        count: {type: integer}
        parent: {$ref: "#/components/schemas/Parent"}
        tags: {type: array, items: {type: string}}
        labels: {type: object, additionalProperties: {type: string}}
    Parent: {type: object, nullable: true, additionalProperties: true, properties: {ok: {type: boolean}}}
`

// TestCheck: a body that matches its schema passes; each way of not
// matching it is caught, and says where.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	os.WriteFile(path, []byte(testSpec), 0o600)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Operations(); len(got) != 1 || got[0] != "GET /items/{id}" {
		t.Errorf("operations: %v", got)
	}
	good := `{"version": 1, "name": "a", "count": 2, "parent": {"ok": true, "more": 1}, "tags": ["x"], "labels": {"k": "v"}}`
	if err := s.Check("GET", "/items/7", 200, []byte(good)); err != nil {
		t.Errorf("a matching body: %v", err)
	}
	if err := s.Check("GET", "/items/7", 200, []byte(`{"version": 1, "name": "a", "parent": null, "tags": []}`)); err != nil {
		t.Errorf("a nullable null: %v", err)
	}
	if err := s.Check("GET", "/items/7", 404, []byte(`{"error": "no"}`)); err != nil {
		t.Errorf("the default response: %v", err)
	}
	for body, want := range map[string]string{
		`{"name": "a", "tags": []}`:                                    "$: version is missing",
		`{"version": 2, "name": "a", "tags": []}`:                      "$.version: 2 is not one of",
		`{"version": 1, "name": "a", "tags": [], "extra": 1}`:          "$: extra is not documented",
		`{"version": 1, "name": 3, "tags": []}`:                        "$.name: float64, want a string",
		`{"version": 1, "name": "a", "count": 1.5, "tags": []}`:        "$.count: 1.5, want an integer",
		`{"version": 1, "name": "a", "tags": null}`:                    "$.tags: null",
		`{"version": 1, "name": "a", "tags": [1]}`:                     "$.tags[0]: float64, want a string",
		`{"version": 1, "name": "a", "tags": [], "labels": {"k": 1}}`:  "$.labels.k: float64, want a string",
		`{"version": 1, "name": "a", "tags": [], "parent": {"ok": 1}}`: "$.parent.ok: float64, want a boolean",
	} {
		err := s.Check("GET", "/items/7", 200, []byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if err := s.Check("GET", "/other", 200, []byte(`{}`)); err == nil {
		t.Error("an undocumented path passed")
	}
	if err := s.Check("POST", "/items/7", 200, []byte(good)); err == nil {
		t.Error("an undocumented method passed")
	}
}
