// Package deploy tests the deployment files under deploy/ like code: the
// kustomize overlays are built with the kustomize library (as `kubectl
// kustomize` does), every object is decoded strictly into its
// Kubernetes API type (an unknown or misspelt field fails), and the
// invariants of docs/operations.md are checked.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// objects is one built overlay, decoded.
type objects struct {
	deployments  []*appsv1.Deployment
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	pvcs         map[string]*corev1.PersistentVolumeClaim
	netpols      []*networkingv1.NetworkPolicy
	ingresses    []*networkingv1.Ingress
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	monitors     []serviceMonitor
	namespaceSet map[string]bool
}

// serviceMonitor is the part of the Prometheus Operator's type that arca
// uses (decoded strictly too).
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// strict decodes JSON into v, failing on fields v does not have.
func strict(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s does not decode strictly: %v\n%s", what, err, b)
	}
}

// build builds overlay from a copy of deploy/kubernetes in memory, with
// extra files written into the copy first (the prod overlay's secrets.env,
// which is never committed).
func build(t *testing.T, overlay string, extra map[string]string) *objects {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range extra {
		if err := mem.WriteFile("/"+p, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/kubernetes/overlays/"+overlay)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	o := &objects{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, namespaceSet: map[string]bool{}}
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%s %s/%s", overlay, r.GetKind(), r.GetName())
		o.namespaceSet[r.GetNamespace()] = true
		switch r.GetKind() {
		case "Deployment":
			v := &appsv1.Deployment{}
			strict(t, what, j, v)
			o.deployments = append(o.deployments, v)
		case "Service":
			v := &corev1.Service{}
			strict(t, what, j, v)
			o.services = append(o.services, v)
		case "ConfigMap":
			v := &corev1.ConfigMap{}
			strict(t, what, j, v)
			o.configMaps[v.Name] = v
		case "Secret":
			v := &corev1.Secret{}
			strict(t, what, j, v)
			o.secrets[v.Name] = v
		case "PersistentVolumeClaim":
			v := &corev1.PersistentVolumeClaim{}
			strict(t, what, j, v)
			o.pvcs[v.Name] = v
		case "NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			strict(t, what, j, v)
			o.netpols = append(o.netpols, v)
		case "Ingress":
			v := &networkingv1.Ingress{}
			strict(t, what, j, v)
			o.ingresses = append(o.ingresses, v)
		case "PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			strict(t, what, j, v)
			o.pdbs = append(o.pdbs, v)
		case "HorizontalPodAutoscaler":
			v := &autoscalingv2.HorizontalPodAutoscaler{}
			strict(t, what, j, v)
			o.hpas = append(o.hpas, v)
		case "ServiceMonitor":
			var v serviceMonitor
			strict(t, what, j, &v)
			o.monitors = append(o.monitors, v)
		default:
			t.Errorf("%s: a kind this test does not check", what)
		}
	}
	if len(o.namespaceSet) != 1 || o.namespaceSet[""] {
		t.Errorf("%s: objects in namespaces %v, want all in the overlay's one", overlay, o.namespaceSet)
	}
	return o
}

// prodSecrets is the prod overlay's secrets.env, as an operator writes it
// from the example.
func prodSecrets(t *testing.T) map[string]string {
	b, err := os.ReadFile("kubernetes/overlays/prod/secrets.env.example")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"kubernetes/overlays/prod/secrets.env": string(b)}
}

func TestKubernetesDev(t *testing.T) {
	o := build(t, "dev", nil)
	d := checkCommon(t, "dev", o)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("dev: %d replicas with strategy %s, want one, recreated (it owns a ReadWriteOnce volume)", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	vol := volume(d, "data")
	if vol == nil || vol.PersistentVolumeClaim == nil || o.pvcs[vol.PersistentVolumeClaim.ClaimName] == nil {
		t.Fatalf("dev: the data volume is not a PersistentVolumeClaim of the build: %+v", vol)
	}
	if env := o.configMaps["arca-config"].Data; env["ARCA_BLOB_DRIVER"] != "" || env["ARCA_DATA_DIR"] != mountPath(d, "data") {
		t.Errorf("dev: config %v, want filesystem blobs in the data directory on the volume", env)
	}
	for _, s := range o.secrets {
		if v, ok := s.Data["database-url"]; !ok || len(v) != 0 {
			t.Errorf("dev: database-url %q, want empty (SQLite on the volume)", v)
		}
	}
}

func TestKubernetesProd(t *testing.T) {
	o := build(t, "prod", prodSecrets(t))
	d := checkCommon(t, "prod", o)
	if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("prod: %d replicas, strategy %+v; want 3 rolling with none unavailable", *d.Spec.Replicas, d.Spec.Strategy)
	}
	if len(o.pvcs) != 0 {
		t.Errorf("prod: PersistentVolumeClaims %v, want none (replicas keep nothing)", o.pvcs)
	}
	if v := volume(d, "data"); v == nil || v.EmptyDir == nil || v.PersistentVolumeClaim != nil {
		t.Errorf("prod: data volume %+v, want an emptyDir only", v)
	}
	cfg := o.configMaps["arca-config"].Data
	if cfg["ARCA_BLOB_DRIVER"] != "s3" || cfg["ARCA_BLOB_S3_BUCKET"] == "" || cfg["ARCA_BLOB_S3_ENDPOINT"] == "" {
		t.Errorf("prod: config %v, want the S3 blob driver with endpoint and bucket", cfg)
	}
	c := d.Spec.Template.Spec.Containers[0]
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			fromSecret[e.Name] = true
		}
	}
	for _, name := range []string{"ARCA_KEK", "ARCA_DATABASE_URL", "ARCA_BLOB_S3_ACCESS_KEY", "ARCA_BLOB_S3_SECRET_KEY"} {
		if !fromSecret[name] {
			t.Errorf("prod: %s does not come from a Secret", name)
		}
		if _, inConfig := cfg[name]; inConfig {
			t.Errorf("prod: %s is in the ConfigMap", name)
		}
	}
	if a := d.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil ||
		len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Error("prod: no pod anti-affinity")
	}
	pods := d.Spec.Template.Labels
	if len(o.pdbs) != 1 || !selects(o.pdbs[0].Spec.Selector.MatchLabels, pods) || o.pdbs[0].Spec.MinAvailable.IntValue() < 2 {
		t.Errorf("prod: PodDisruptionBudgets %+v, want one keeping at least 2 of arca's pods", o.pdbs)
	}
	if len(o.hpas) != 1 || o.hpas[0].Spec.ScaleTargetRef.Name != d.Name || *o.hpas[0].Spec.MinReplicas < 3 {
		t.Errorf("prod: autoscalers %+v, want one of %s with at least 3 replicas", o.hpas, d.Name)
	}
	if len(o.monitors) != 1 {
		t.Fatalf("prod: %d ServiceMonitors, want 1", len(o.monitors))
	}
	m := o.monitors[0]
	svc := o.services[0]
	if !selects(m.Spec.Selector.MatchLabels, svc.Labels) || len(m.Spec.Endpoints) != 1 ||
		m.Spec.Endpoints[0].Path != "/metrics" || servicePort(svc, m.Spec.Endpoints[0].Port) == nil {
		t.Errorf("prod: ServiceMonitor %+v does not scrape /metrics of service %s (labels %v)", m.Spec, svc.Name, svc.Labels)
	}
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func mountPath(d *appsv1.Deployment, volume string) string {
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// selects reports whether a label selector's matchLabels match labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func servicePort(s *corev1.Service, name string) *corev1.ServicePort {
	for i, p := range s.Spec.Ports {
		if p.Name == name {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

func containerPort(c corev1.Container, name string) bool {
	for _, p := range c.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}
