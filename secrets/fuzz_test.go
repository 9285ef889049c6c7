package secrets

import (
	"testing"
)

// The reader takes what a pusher commits: no input makes it panic, and a
// file it cannot open is an error, whatever the input.
func FuzzDecrypt(f *testing.F) {
	for _, seed := range []string{
		"A=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops_mac=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops_lastmodified=2026-01-01T00:00:00Z\nsops_age__list_0__map_enc=x\nsops_age__list_0__map_recipient=age1\n",
		"sops_key_groups__list_1__map_age__list_0__map_enc=x\nsops_mac=ENC[AES256_GCM,\n",
		"a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:int]\nsops:\n  mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n  lastmodified: x\n  pgp: [{fp: F, enc: y}]\n",
		`{"data": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]", "sops": {"mac": "ENC[AES256_GCM,", "lastmodified": "2026-01-01T00:00:00Z", "age": [{"enc": "z"}]}}`,
	} {
		f.Add(seed, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data string, format uint8) {
		fm := Format(format % 5)
		_ = Check([]byte(data), fm)
		_ = Encrypted([]byte(data), fm)
		if _, err := Decrypt([]byte(data), fm, &Keys{}); err == nil {
			t.Fatal("decrypted without a key")
		}
		if fm == Dotenv {
			Blank([]byte(data))
		}
	})
}
