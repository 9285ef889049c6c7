package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Hash is the config hash of the spec: sha256 over its canonical JSON, with
// bind sources that carry a Content digest replaced by that digest. Fields
// are omitted when empty, so a field added to ContainerSpec later does not
// change the hash of specs that do not use it; TestHashGolden pins the value.
func (s ContainerSpec) Hash() string {
	c := s
	if len(s.Mounts) > 0 {
		c.Mounts = make([]Mount, len(s.Mounts))
		for i, m := range s.Mounts {
			if m.Content != "" {
				m.Source = ""
			}
			c.Mounts[i] = m
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		// ContainerSpec holds only strings, numbers, bools, slices and maps.
		panic("reconcile: marshal container spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
