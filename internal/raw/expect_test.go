package raw

import (
	"net/http"
	"testing"
)

func FuzzExpectation(f *testing.F) {
	f.Add("X-Checksum-Sha256", "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
	f.Add("Content-Digest", "sha-256=:WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=:, sha-512=:x:")
	f.Add("Content-MD5", "sZRqySSS0jR8YjW00mERhA==")
	f.Add("X-Checksum-Sha1", "f572d396fae9206628714fb2ce00f72e94f2258f")
	f.Fuzz(func(t *testing.T, name, value string) {
		r, _ := http.NewRequest("PUT", "http://x/raw/files/a", nil)
		r.ContentLength = -1
		r.Header.Set(name, value)
		c, err := expectation(r)
		if err != nil {
			return
		}
		if c.Digest != "" && len(c.Digest) != 71 {
			t.Fatalf("accepted digest %q from %s: %q", c.Digest, name, value)
		}
		if c.MD5 != "" && len(c.MD5) != 32 {
			t.Fatalf("md5 %q accepted", c.MD5)
		}
		if c.SHA1 != "" && len(c.SHA1) != 40 {
			t.Fatalf("sha1 %q accepted", c.SHA1)
		}
	})
}
