package pypi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func newFormRequest(body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/pypi/x/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	return r
}

func part(name, value string) string {
	return fmt.Sprintf("--B\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", name, value)
}

func TestReadUploadForm(t *testing.T) {
	body := part(":action", "file_upload") + part("name", "demo") + part("classifiers", "A") + part("classifiers", "B") +
		"--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"demo-1.tar.gz\"\r\n\r\nDATA\r\n" + part("version", "1") + "--B--\r\n"
	var got string
	form, err := ReadUploadForm(newFormRequest([]byte(body)), func(fn string, r io.Reader) error {
		b, _ := io.ReadAll(r)
		got = fn + ":" + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != "demo-1.tar.gz:DATA" || form.Get("name") != "demo" || form.Get("version") != "1" || len(form.Fields["classifiers"]) != 2 {
		t.Fatalf("form %+v, content %q", form, got)
	}
	drain := func(string, io.Reader) error { return nil }
	for name, body := range map[string]string{
		"no content":     part("name", "x") + "--B--\r\n",
		"two contents":   "--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a\"\r\n\r\nx\r\n--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"b\"\r\n\r\ny\r\n--B--\r\n",
		"no file name":   "--B\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nx\r\n--B--\r\n",
		"truncated":      part("name", "x") + "--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a\"\r\n\r\nxx",
		"huge field":     part("description", strings.Repeat("x", maxFormFieldBytes+1)) + "--B--\r\n",
		"too many parts": strings.Repeat(part("classifiers", "x"), maxFormParts+1) + "--B--\r\n",
	} {
		_, err := ReadUploadForm(newFormRequest([]byte(body)), drain)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if k := errs.KindOf(err); k != errs.Invalid && k != errs.TooLarge {
			t.Errorf("%s: kind %v: %v", name, k, err)
		}
	}
	r := httptest.NewRequest("POST", "/pypi/x/", strings.NewReader("a=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ReadUploadForm(r, drain); !errs.Is(err, errs.Invalid) {
		t.Errorf("urlencoded form: %v", err)
	}
}

func TestServePageGzip(t *testing.T) {
	body := []byte(strings.Repeat(`<a href="../../files/x/x-1.0.tar.gz#sha256=00">x-1.0.tar.gz</a><br />`+"\n", 200))
	pg := newRenderedPage("g1", body)
	for _, c := range []struct {
		accept string
		gz     bool
	}{{"gzip, deflate", true}, {"", false}, {"br", false}, {"gzip;q=0", false}, {"identity, GZIP ; q=0.5", true}} {
		r := httptest.NewRequest("GET", "/pypi/x/simple/x/", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Encoding", c.accept)
		}
		w := httptest.NewRecorder()
		servePage(w, r, typeHTML, pg)
		got := w.Body.Bytes()
		if c.gz {
			if w.Header().Get("Content-Encoding") != "gzip" || !strings.HasSuffix(w.Header().Get("ETag"), `-gzip"`) {
				t.Fatalf("%q: headers %v", c.accept, w.Header())
			}
			zr, err := gzip.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ = io.ReadAll(zr); !bytes.Equal(got, body) {
				t.Fatalf("%q: gzipped body differs", c.accept)
			}
		} else if w.Header().Get("Content-Encoding") != "" || !bytes.Equal(got, body) {
			t.Fatalf("%q: headers %v", c.accept, w.Header())
		}
		if v := w.Header().Get("Vary"); v != "Accept, Accept-Encoding" {
			t.Errorf("Vary = %q", v)
		}
	}
}
