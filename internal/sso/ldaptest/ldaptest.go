// Package ldaptest starts a real OpenLDAP server (Debian's slapd) for
// tests: its own configuration (slapd -f) and database in a temporary
// directory, plain LDAP and LDAPS on free loopback ports with a
// certificate made for the run, entries loaded with ldapadd. Tests that
// need it skip (or fail under CI) when slapd is not installed;
// scripts/test.sh installs it.
package ldaptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Suffix is the directory's base DN; AdminDN and AdminPassword its root
// account (the service account of the tests).
const (
	Suffix        = "dc=arca,dc=test"
	AdminDN       = "cn=admin," + Suffix
	AdminPassword = "slapd-admin-secret"
	People        = "ou=people," + Suffix
	Groups        = "ou=groups," + Suffix
)

// Server is a running slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT (certificate in CAFile)
	CAFile   string
	dir      string
	t        testing.TB
}

// Start runs slapd for the test and loads the base entries (the suffix,
// ou=people, ou=groups). It is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	slapd := "/usr/sbin/slapd"
	if _, err := os.Stat(slapd); err != nil {
		if p, err := exec.LookPath("slapd"); err == nil {
			slapd = p
		} else {
			skipOrFail(t, "slapd is not installed (apt-get install slapd ldap-utils)")
		}
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		skipOrFail(t, "ldapadd is not installed (apt-get install ldap-utils)")
	}
	dir := t.TempDir()
	s := &Server{dir: dir, t: t, CAFile: filepath.Join(dir, "cert.pem")}
	writeCert(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
TLSCertificateFile %[1]s/cert.pem
TLSCertificateKeyFile %[1]s/key.pem
database mdb
maxsize 33554432
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
index objectClass eq
index uid,member,memberUid eq
`, dir, Suffix, AdminDN, AdminPassword)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	port, tlsPort := freePort(t), freePort(t)
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort)
	logPath := filepath.Join(dir, "slapd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// -d 0 keeps slapd in the foreground (so it dies with the test) and
	// quiet; root may run it as itself.
	cmd := exec.Command(slapd, "-f", confPath, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting slapd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("slapd log:\n%s", b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("slapd did not listen within 20s:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Add(fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
dc: arca
o: arca tests

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalUnit
ou: groups
`, Suffix, People, Groups))
	return s
}

// Add loads LDIF with ldapadd as the root account.
func (s *Server) Add(ldif string) {
	s.t.Helper()
	s.ldap("ldapadd", ldif)
}

// Modify applies LDIF changes with ldapmodify as the root account.
func (s *Server) Modify(ldif string) {
	s.t.Helper()
	s.ldap("ldapmodify", ldif)
}

func (s *Server) ldap(tool, ldif string) {
	s.t.Helper()
	cmd := exec.Command(tool, "-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s\nLDIF:\n%s", tool, err, out, ldif)
	}
}

// AddUser adds an inetOrgPerson under ou=people with a password.
func (s *Server) AddUser(uid, password string) {
	s.t.Helper()
	s.Add(fmt.Sprintf(`dn: uid=%[1]s,%[2]s
objectClass: inetOrgPerson
uid: %[1]s
cn: %[1]s
sn: %[1]s
mail: %[1]s@arca.test
userPassword: %[3]s
`, uid, People, password))
}

// AddGroup adds a groupOfNames under ou=groups with the members (uids).
func (s *Server) AddGroup(cn string, uids ...string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", cn, Groups, cn)
	for _, u := range uids {
		fmt.Fprintf(&b, "member: uid=%s,%s\n", u, People)
	}
	s.Add(b.String())
}

// RemoveMember takes a user out of a group.
func (s *Server) RemoveMember(cn, uid string) {
	s.t.Helper()
	s.Modify(fmt.Sprintf("dn: cn=%s,%s\nchangetype: modify\ndelete: member\nmember: uid=%s,%s\n", cn, Groups, uid, People))
}

// UserDN is the DN AddUser gives uid.
func UserDN(uid string) string { return "uid=" + uid + "," + People }

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost.
func writeCert(t testing.TB, dir string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("missing prerequisite (CI is set): %s", msg)
	}
	t.Skipf("skipping: %s; scripts/test.sh installs it", msg)
}
