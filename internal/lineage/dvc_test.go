package lineage

import (
	"reflect"
	"testing"
)

func TestDVCObject(t *testing.T) {
	for key, want := range map[string]string{
		"files/md5/01/23456789abcdef0123456789abcdef":         md5,
		"project/files/md5/01/23456789abcdef0123456789abcdef": md5,
		"01/23456789abcdef0123456789abcdef":                   md5,
		"cache/01/23456789abcdef0123456789abcdef.dir":         md5 + ".dir",
		"files/md5/01/23456789ABCDEF0123456789abcdef":         "",
		"files/md5/01/23456789abcdef0123456789abcde":          "",
		"files/md5/012/3456789abcdef0123456789abcdef":         "",
		"data/train.csv":                 "",
		"23456789abcdef0123456789abcdef": "",
	} {
		got, ok := DVCObject(key)
		if got != want || ok != (want != "") {
			t.Errorf("DVCObject(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	for key, want := range map[string]bool{"data.csv.dvc": true, "a/b/dvc.lock": true, ".dvc": false, "dvc.yaml": false, "x.dvc/y": false} {
		if IsDVCFile(key) != want {
			t.Errorf("IsDVCFile(%q) = %v", key, !want)
		}
	}
}

func TestParseDVCFile(t *testing.T) {
	dvcFile := "outs:\n- md5: " + md5 + ".dir\n  size: 12\n  nfiles: 2\n  hash: md5\n  path: data\n- etag: abc\n  path: cloud\n"
	stages, err := ParseDVCFile("data.dvc", []byte(dvcFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []DVCStage{{Outs: []DVCOutput{{Path: "data", MD5: md5 + ".dir"}}}}
	if !reflect.DeepEqual(stages, want) {
		t.Errorf("ParseDVCFile(.dvc) = %+v, want %+v", stages, want)
	}
	other := "fedcba9876543210fedcba9876543210"
	lock := "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data\n      md5: " + md5 +
		".dir\n    outs:\n    - path: model.pkl\n      md5: " + other + "\n  prepare:\n    cmd: true\n"
	stages, err = ParseDVCFile("dvc.lock", []byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	want = []DVCStage{{Name: "train", Deps: []DVCOutput{{Path: "data", MD5: md5 + ".dir"}}, Outs: []DVCOutput{{Path: "model.pkl", MD5: other}}}}
	if !reflect.DeepEqual(stages, want) {
		t.Errorf("ParseDVCFile(dvc.lock) = %+v, want %+v", stages, want)
	}
	old := "train:\n  cmd: x\n  deps:\n  - path: a\n    md5: " + md5 + "\n"
	if stages, err = ParseDVCFile("sub/dvc.lock", []byte(old)); err != nil || len(stages) != 1 || stages[0].Name != "train" {
		t.Errorf("ParseDVCFile(DVC 1 lock) = %+v, %v", stages, err)
	}
	for name, bad := range map[string]string{"x.dvc": "outs: {", "dvc.lock": "stages: [1, 2", "y.dvc": "outs: 3"} {
		if s, err := ParseDVCFile(name, []byte(bad)); err == nil {
			t.Errorf("ParseDVCFile(%s, %q) = %+v, want an error", name, bad, s)
		}
	}
}

func FuzzParseDVCFile(f *testing.F) {
	f.Add("data.dvc", "outs:\n- md5: "+md5+"\n  path: data\n")
	f.Add("dvc.lock", "schema: '2.0'\nstages:\n  s:\n    deps:\n    - path: a\n      md5: "+md5+"\n")
	f.Add("dvc.lock", "a: &a [*a, *a]\n")
	f.Fuzz(func(t *testing.T, name, content string) {
		stages, err := ParseDVCFile(name, []byte(content))
		if err != nil {
			return
		}
		for _, s := range stages {
			for _, o := range append(s.Deps, s.Outs...) {
				if _, err := ParseRef(KindDVC + ":" + o.MD5); err != nil {
					t.Fatalf("ParseDVCFile(%q) kept md5 %q that is not a ref: %v", content, o.MD5, err)
				}
			}
		}
	})
}
