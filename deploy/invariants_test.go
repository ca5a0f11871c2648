package deploy_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// checkCommon checks what every overlay must hold and returns its one
// Deployment: probes on /readyz and /healthz, a restricted security
// context, resource requests, every Secret, ConfigMap and claim it names
// present in the build with the keys it reads, a Service, NetworkPolicy
// and Ingress that reach its ports.
func checkCommon(t *testing.T, overlay string, o *objects) *appsv1.Deployment {
	t.Helper()
	if len(o.deployments) != 1 || len(o.services) != 1 {
		t.Fatalf("%s: %d Deployments and %d Services, want one each", overlay, len(o.deployments), len(o.services))
	}
	d := o.deployments[0]
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", overlay, len(pod.Containers))
	}
	c := pod.Containers[0]
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("%s: the Deployment's selector %v does not select its pods %v", overlay, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || !containerPort(c, p.HTTPGet.Port.String()) {
			t.Errorf("%s: %s probe %+v, want GET %s on a named container port", overlay, what, p, path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("startup", c.StartupProbe, "/healthz")

	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v, want non-root with the runtime's seccomp profile", overlay, psc)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container security context %+v, want no privilege escalation, a read-only root, no capabilities", overlay, sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %+v, want CPU and memory requests and a memory limit", overlay, c.Resources)
	}
	// A read-only root needs somewhere to write: the data directory and /tmp.
	cfg := o.configMaps["arca-config"]
	if cfg == nil {
		t.Fatalf("%s: no ConfigMap arca-config", overlay)
	}
	if mountPath(d, "tmp") != "/tmp" || mountPath(d, "data") == "" || mountPath(d, "data") != cfg.Data["ARCA_DATA_DIR"] {
		t.Errorf("%s: mounts %+v, want /tmp and the data directory %q", overlay, c.VolumeMounts, cfg.Data["ARCA_DATA_DIR"])
	}

	// References resolve within the build.
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && o.configMaps[e.ConfigMapRef.Name] == nil {
			t.Errorf("%s: envFrom names ConfigMap %q, not in the build", overlay, e.ConfigMapRef.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		s := o.secrets[ref.Name]
		if s == nil {
			t.Errorf("%s: %s names Secret %q, not in the build", overlay, e.Name, ref.Name)
			continue
		}
		if _, ok := s.Data[ref.Key]; !ok {
			t.Errorf("%s: %s names key %q of Secret %s, which has %v", overlay, e.Name, ref.Key, ref.Name, keys(s.Data))
		}
	}
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && o.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
			t.Errorf("%s: volume %s names claim %q, not in the build", overlay, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}

	svc := o.services[0]
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("%s: Service %s selects %v, not arca's pods", overlay, svc.Name, svc.Spec.Selector)
	}
	for _, p := range svc.Spec.Ports {
		if !containerPort(c, p.TargetPort.String()) {
			t.Errorf("%s: Service port %s targets %s, not a container port", overlay, p.Name, p.TargetPort.String())
		}
	}
	for _, np := range o.netpols {
		if !selects(np.Spec.PodSelector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%s: NetworkPolicy %s does not select arca's pods", overlay, np.Name)
		}
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("%s: NetworkPolicy %s lets every source in", overlay, np.Name)
			}
			for _, from := range rule.From {
				if from.NamespaceSelector == nil || len(from.NamespaceSelector.MatchLabels) == 0 || from.IPBlock != nil {
					t.Errorf("%s: NetworkPolicy %s admits %+v, want named namespaces only", overlay, np.Name, from)
				}
			}
			for _, p := range rule.Ports {
				if p.Port == nil || !containerPort(c, p.Port.String()) {
					t.Errorf("%s: NetworkPolicy %s opens port %v, not a container port", overlay, np.Name, p.Port)
				}
			}
		}
	}
	if len(o.netpols) == 0 {
		t.Errorf("%s: no NetworkPolicy", overlay)
	}
	if len(o.ingresses) != 1 {
		t.Fatalf("%s: %d Ingresses, want 1", overlay, len(o.ingresses))
	}
	ing := o.ingresses[0]
	routed := map[string]bool{}
	for _, rule := range ing.Spec.Rules {
		if rule.Host == "" || rule.HTTP == nil {
			t.Errorf("%s: Ingress rule without a host: %+v", overlay, rule)
			continue
		}
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != svc.Name || servicePort(svc, b.Port.Name) == nil {
				t.Errorf("%s: Ingress %s routes to %+v, not a port of Service %s", overlay, rule.Host, b, svc.Name)
				continue
			}
			routed[b.Port.Name] = true
		}
	}
	if !routed["http"] || !routed["s3"] {
		t.Errorf("%s: the Ingress routes ports %v, want both listeners (http and s3)", overlay, routed)
	}
	if len(ing.Spec.TLS) == 0 {
		t.Errorf("%s: the Ingress terminates no TLS", overlay)
	}
	return d
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
