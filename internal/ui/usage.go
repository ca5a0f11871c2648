package ui

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/repo"
)

// Snippet is one "how to use this" block: a title and text to copy.
type Snippet struct {
	Title string
	Text  string
}

// s3URL is the S3 listener's URL as clients reach it: this server's host
// with the S3 port, or "" when the build serves no S3.
func (h *Handler) s3URL(r *http.Request) string {
	if h.S3Addr == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(h.S3Addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	u, err := url.Parse(h.baseURL(r))
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// registryHost is the host[:port] image references start with.
func (h *Handler) registryHost(r *http.Request) string {
	u, err := url.Parse(h.baseURL(r))
	if err != nil {
		return r.Host
	}
	return u.Host
}

// usage returns the snippets that show how the clients of rp's format use
// it, filled in with this server's URL and the viewer's name.
func (h *Handler) usage(r *http.Request, rp *repo.Repository) []Snippet {
	base := h.baseURL(r)
	host := h.registryHost(r)
	user := auth.From(r.Context()).Name
	if user == "" {
		user = "<user>"
	}
	secret := "<token>" // a token from "Your account"; a password works too
	insecure := strings.HasPrefix(base, "http://")
	n := rp.Name
	var out []Snippet
	add := func(title, format string, args ...any) {
		out = append(out, Snippet{Title: title, Text: fmt.Sprintf(format, args...)})
	}
	switch rp.Format {
	case "oci":
		add("docker", "docker login %s -u %s\ndocker tag myimage:latest %s/%s/myimage:latest\ndocker push %s/%s/myimage:latest\ndocker pull %s/%s/myimage:latest",
			host, user, host, n, host, n, host, n)
		flag := ""
		if insecure {
			flag = " --insecure"
		}
		add("crane", "crane auth login %s -u %s -p %s%s\ncrane push image.tar %s/%s/myimage:latest%s\ncrane copy docker.io/library/alpine:3 %s/%s/alpine:3%s",
			host, user, secret, flag, host, n, flag, host, n, flag)
		add("helm (charts in OCI)", "helm registry login %s -u %s\nhelm push mychart-0.1.0.tgz oci://%s/%s/charts\nhelm install myrelease oci://%s/%s/charts/mychart --version 0.1.0",
			host, user, host, n, host, n)
		if insecure {
			add("Plain HTTP", "# docker: list the registry as insecure in /etc/docker/daemon.json\n{ \"insecure-registries\": [\"%s\"] }", host)
		}
	case "pypi":
		index := strings.Replace(base, "://", "://"+user+":"+secret+"@", 1) + "/pypi/" + n + "/simple/"
		add("pip.conf (or pip install --index-url)", "[global]\nindex-url = %s", index)
		if rp.Kind == repo.Hosted {
			add("twine", "twine upload --repository-url %s/pypi/%s/ -u %s -p %s dist/*", base, n, user, secret)
		}
		add("uv", "uv pip install --index-url %s <package>", index)
	case "npm":
		reg := base + "/npm/" + n + "/"
		nerf := strings.TrimPrefix(strings.TrimPrefix(reg, "http:"), "https:")
		add(".npmrc", "registry=%s\n%s:_authToken=%s", reg, nerf, secret)
		// yarn 1 sends the token with unscoped packages only when
		// always-auth is set; without it a private repository answers
		// "authentication required".
		add("yarn 1 (classic): also add to .npmrc", "%s:always-auth=true\n# npm 9 and later warn that they do not know always-auth; it is for yarn", nerf)
		if rp.Kind == repo.Hosted {
			add("npm publish", "npm publish --registry %s", reg)
		}
		add("npm install", "npm install --registry %s <package>", reg)
	case "maven":
		url := base + "/maven/" + n + "/"
		add("~/.m2/settings.xml: credentials, and every repository through this one", `<settings>
  <servers>
    <server><id>arca</id><username>%s</username><password>%s</password></server>
  </servers>
  <mirrors>
    <mirror><id>arca</id><mirrorOf>*</mirrorOf><url>%s</url></mirror>
  </mirrors>
  <!-- a mirror takes the policies of what it mirrors: let central have snapshots -->
  <profiles><profile><id>arca</id>
    <repositories><repository><id>central</id><url>http://central</url>
      <snapshots><enabled>true</enabled></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>central</id><url>http://central</url>
      <snapshots><enabled>true</enabled></snapshots></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>arca</activeProfile></activeProfiles>
</settings>`, user, secret, url)
		if rp.Kind == repo.Hosted {
			add("pom.xml: mvn deploy to this repository", `<distributionManagement>
  <repository><id>arca</id><url>%s</url></repository>
  <snapshotRepository><id>arca</id><url>%s</url></snapshotRepository>
</distributionManagement>`, url, url)
			add("mvn deploy without changing the pom", "mvn deploy -DaltDeploymentRepository=arca::%s", url)
		}
		add("mvn dependency:get", "mvn dependency:get -Dartifact=<groupId>:<artifactId>:<version>")
		add("Gradle (settings.gradle.kts)", `dependencyResolutionManagement {
    repositories {
        maven {
            url = uri("%s")
            credentials { username = "%s"; password = "%s" }
        }
    }
}`, url, user, secret)
	case "go":
		proxy := base + "/go/" + n
		add("go env: arca as the only module proxy", "go env -w GOPROXY=%s GONOSUMDB=<your private module prefixes, e.g. example.com/internal>", proxy)
		add("~/.netrc: the go command sends these credentials (over HTTPS only)", "machine %s login %s password %s", host, user, secret)
		if insecure {
			add("Plain HTTP", "# the go command sends no credentials over http: make the repository public to read it, or serve arca over HTTPS")
		}
		if rp.Kind == repo.Hosted {
			add("Publish a module version", "arca go publish . v1.0.0 --url %s --repo %s --user %s --token %s\n# or: curl -u %s:%s -T module.zip %s/<module>/@v/v1.0.0.zip", base, n, user, secret, user, secret, proxy)
		}
	case "helm":
		url := base + "/helm/" + n
		add("helm repo add", "helm repo add %s %s --username %s --password %s\nhelm repo update\nhelm search repo %s/", n, url, user, secret, n)
		if rp.Kind == repo.Hosted {
			add("Upload a chart (ChartMuseum API)", "helm package mychart/\ncurl -u %s:%s --data-binary @mychart-0.1.0.tgz %s/api/charts\n# with the cm-push plugin: helm cm-push mychart-0.1.0.tgz %s", user, secret, url, n)
		}
		add("helm pull / install", "helm pull %s/<chart> --version <version>\nhelm install myrelease %s/<chart>", n, n)
	case "raw":
		add("curl", "curl -u %s:%s -T model.bin %s/raw/%s/models/model.bin\ncurl -u %s:%s -O %s/raw/%s/models/model.bin",
			user, secret, base, n, user, secret, base, n)
		add("dvc remote (HTTP)", "dvc remote add -d arca %s/raw/%s/dvc\ndvc remote modify arca auth basic\ndvc remote modify --local arca user %s\ndvc remote modify --local arca password %s",
			base, n, user, secret)
	case "s3":
		s3 := h.s3URL(r)
		if s3 == "" {
			s3 = "<the S3 endpoint>"
		}
		add("aws CLI", "export AWS_ACCESS_KEY_ID=<access key id> AWS_SECRET_ACCESS_KEY=<secret>\naws --endpoint-url %s s3 ls s3://%s/\naws --endpoint-url %s s3 cp data.csv s3://%s/data/data.csv",
			s3, n, s3, n)
		add("dvc remote (S3)", "dvc remote add -d arca s3://%s/dvc\ndvc remote modify arca endpointurl %s\ndvc remote modify --local arca access_key_id <access key id>\ndvc remote modify --local arca secret_access_key <secret>",
			n, s3)
		add("boto3", "boto3.client(\"s3\", endpoint_url=\"%s\",\n             aws_access_key_id=\"<access key id>\", aws_secret_access_key=\"<secret>\")", s3)
	case "mlflow":
		add("MLflow", "export MLFLOW_TRACKING_URI=%s/mlflow\nexport MLFLOW_TRACKING_USERNAME=%s\nexport MLFLOW_TRACKING_PASSWORD=%s", base, user, secret)
	}
	return out
}
