import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { NATS_ROLES } from "@heliograph/platform";
import { REPO_ROOT, which } from "@heliograph/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

// deploy/k8s as `kubectl apply -k` would send it: rendered by kustomize, then each object's fields
// checked against what docs/architecture.md and deploy/README.md promise operators. No cluster
// runs here, so this is what can be checked: the manifests say what they should.

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects of every kind
type K8sObject = any;

const KUBECTL = which("kubectl");
let objects: K8sObject[];
const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
};
const workloads = () => [...ofKind("Deployment"), ...ofKind("StatefulSet")];
const containersOf = (w: K8sObject): K8sObject[] => w.spec.template.spec.containers;
const envOf = (c: K8sObject, name: string) => (c.env ?? []).find((e: K8sObject) => e.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe.skipIf(!KUBECTL)("deploy/k8s rendered by kustomize (kubectl on the PATH)", () => {
  beforeAll(() => {
    const rendered = execFileSync(KUBECTL as string, ["kustomize", join(REPO_ROOT, "deploy/k8s")], {
      encoding: "utf8",
    });
    objects = parseAllDocuments(rendered).map((d) => d.toJS());
  });

  it("renders the namespace, NATS, Redis and the four services, all in namespace heliograph", () => {
    for (const [kind, name] of [
      ["StatefulSet", "nats"],
      ["StatefulSet", "redis"],
      ["Deployment", "ingest-gateway"],
      ["Deployment", "sequencer"],
      ["Deployment", "stream-gateway"],
      ["Deployment", "webhook-dispatcher"],
    ])
      named(kind as string, name as string);
    for (const o of objects.filter((o) => o.kind !== "Namespace"))
      expect(o.metadata.namespace, o.kind).toBe("heliograph");
  });

  it("pins every third-party image to a full version", () => {
    for (const w of workloads())
      for (const c of containersOf(w)) {
        if (c.image.startsWith("heliograph:")) continue; // set by the operator: kustomize edit set image
        expect(c.image, `${w.metadata.name}/${c.name}`).toMatch(
          /^[a-z0-9./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$/,
        );
      }
  });

  it("gives every container requests, limits and probes, and runs it non-root without privilege escalation", () => {
    for (const w of workloads())
      for (const c of containersOf(w)) {
        const what = `${w.metadata.name}/${c.name}`;
        expect(c.resources?.requests?.cpu, what).toBeDefined();
        expect(c.resources?.requests?.memory, what).toBeDefined();
        expect(c.resources?.limits?.memory, what).toBeDefined();
        expect(c.readinessProbe, what).toBeDefined();
        expect(c.livenessProbe, what).toBeDefined();
        expect(c.securityContext?.allowPrivilegeEscalation, what).toBe(false);
        expect(w.spec.template.spec.securityContext?.runAsNonRoot ?? c.securityContext?.runAsNonRoot, what).toBe(true);
      }
  });

  it("has a PodDisruptionBudget for every workload of two or more pods (the HPA-owned gateways included)", () => {
    // A one-pod Redis cannot be kept up through a drain by a budget; it would only block it.
    for (const w of workloads().filter((w) => (w.spec.replicas ?? 2) >= 2)) {
      const labels = w.spec.template.metadata.labels;
      const pdb = ofKind("PodDisruptionBudget").find((p) => matches(p.spec.selector.matchLabels, labels));
      expect(pdb, `a PDB selecting ${w.metadata.name}`).toBeDefined();
    }
  });

  it("runs two sequencers at least, and scales both gateways from two by CPU; the stream gateway also by held polls", () => {
    expect(named("Deployment", "sequencer").spec.replicas).toBeGreaterThanOrEqual(2);
    for (const name of ["ingest-gateway", "stream-gateway"]) {
      const hpa = ofKind("HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === name);
      expect(hpa, `an HPA for ${name}`).toBeDefined();
      expect(hpa.spec.scaleTargetRef.kind).toBe("Deployment");
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.metrics.map((m: K8sObject) => m.resource?.name ?? m.pods?.metric?.name)).toContain("cpu");
      // The HPA owns the count: a replicas field would be reset by every apply.
      expect(named("Deployment", name).spec.replicas, name).toBeUndefined();
    }
    const stream = ofKind("HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === "stream-gateway");
    expect(stream.spec.metrics.map((m: K8sObject) => m.pods?.metric?.name)).toContain("heliograph_stream_waiters");
  });

  it("keeps the admin API off every Service and port: the ingest gateway exposes its public port only", () => {
    const ingest = named("Deployment", "ingest-gateway");
    const [container] = containersOf(ingest);
    expect(container.ports.map((p: K8sObject) => p.containerPort)).toEqual([8080]);
    expect(envOf(container, "ADMIN_HOST")).toBeUndefined(); // the loopback default
    expect(envOf(container, "ADMIN_TOKEN").valueFrom.secretKeyRef).toEqual({
      name: "heliograph-secrets",
      key: "ADMIN_TOKEN",
    });
    for (const svc of ofKind("Service"))
      for (const port of svc.spec.ports) expect([port.port, port.targetPort], svc.metadata.name).not.toContain(8090);
  });

  it("connects each service to NATS as its own role, its password from the Secret", () => {
    for (const name of ["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"]) {
      const [container] = containersOf(named("Deployment", name));
      expect(NATS_ROLES).toContain(name);
      expect(envOf(container, "NATS_USER")?.value, name).toBe(name);
      expect(envOf(container, "NATS_PASSWORD")?.valueFrom?.secretKeyRef, name).toEqual({
        name: "heliograph-secrets",
        key: `NATS_PASSWORD_${name.toUpperCase().replaceAll("-", "_")}`,
      });
    }
  });
});

describe.skipIf(!KUBECTL)("deploy/k8s-redis-cluster: deploy/k8s with Redis Cluster (kubectl on the PATH)", () => {
  beforeAll(() => {
    const rendered = execFileSync(KUBECTL as string, ["kustomize", join(REPO_ROOT, "deploy/k8s-redis-cluster")], {
      encoding: "utf8",
    });
    objects = parseAllDocuments(rendered).map((d) => d.toJS());
  });

  it("replaces the one Redis with six cluster nodes, a PDB and a create Job, all in namespace heliograph", () => {
    expect(objects.find((o) => o.metadata?.name === "redis" && ["StatefulSet", "Service"].includes(o.kind))).toBe(
      undefined,
    );
    const nodes = named("StatefulSet", "redis-cluster");
    expect(nodes.spec.replicas).toBe(6);
    expect(nodes.spec.podManagementPolicy).toBe("Parallel");
    expect(named("Service", "redis-cluster").spec.clusterIP).toBe("None");
    expect(named("PodDisruptionBudget", "redis-cluster").spec.maxUnavailable).toBe(1);
    // The config it mounts is the overlay's generated one (cluster mode on), by its hashed name.
    const config = nodes.spec.template.spec.volumes.find((v: K8sObject) => v.name === "config").configMap.name;
    expect(named("ConfigMap", config).data["redis.conf"]).toMatch(/^cluster-enabled yes$/m);
    const [create] = named("Job", "redis-cluster-create").spec.template.spec.containers;
    expect(create.command.join(" ")).toContain("redis-cli --cluster create $nodes --cluster-replicas 1");
    for (const o of objects.filter((o) => o.kind !== "Namespace"))
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe("heliograph");
  });

  it("pins the Redis and Job images and runs them non-root, with requests and limits", () => {
    for (const w of [named("StatefulSet", "redis-cluster"), named("Job", "redis-cluster-create")])
      for (const c of containersOf(w)) {
        expect(c.image).toBe("redis:7.4.1-alpine");
        expect(c.resources?.requests?.memory).toBeDefined();
        expect(c.resources?.limits?.memory).toBeDefined();
        expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
        expect(w.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
      }
  });

  it("gives every workload that has REDIS_URL in deploy/k8s the seed list of the six nodes, with the password from the Secret", () => {
    const seeds = Array.from(
      { length: 6 },
      (_, i) => `redis://:$(REDIS_PASSWORD)@redis-cluster-${i}.redis-cluster:6379`,
    ).join(",");
    // Which workloads connect to Redis comes from the base, not from a list here: a service added
    // to deploy/k8s and forgotten in redis-url.yaml would keep the base's URL of the deleted Service.
    const base = parseAllDocuments(
      execFileSync(KUBECTL as string, ["kustomize", join(REPO_ROOT, "deploy/k8s")], { encoding: "utf8" }),
    ).map((d) => d.toJS());
    const redisUsers = base
      .filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))
      .flatMap((w) =>
        containersOf(w)
          .filter((c) => envOf(c, "REDIS_URL"))
          .map((c) => [w.kind, w.metadata.name, c.name]),
      );
    expect(redisUsers.map(([, name]) => name).sort()).toEqual(
      expect.arrayContaining(["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"]),
    );
    for (const [kind, name, containerName] of redisUsers) {
      const container = containersOf(named(kind, name)).find((c) => c.name === containerName);
      expect(envOf(container, "REDIS_URL")?.value, name).toBe(seeds);
      // Defined before REDIS_URL, so Kubernetes expands $(REDIS_PASSWORD) in it.
      const names = container.env.map((e: K8sObject) => e.name);
      expect(names.indexOf("REDIS_PASSWORD"), name).toBeLessThan(names.indexOf("REDIS_URL"));
    }
    // And nothing else in the overlay still names the single Redis the overlay deletes.
    for (const w of workloads())
      for (const c of containersOf(w))
        for (const e of c.env ?? [])
          expect(String(e.value ?? ""), `${w.metadata.name}/${c.name} ${e.name}`).not.toMatch(/@redis:\d/);
    for (const map of ofKind("ConfigMap"))
      expect(Object.keys(map.data ?? {}), map.metadata.name).not.toContain("REDIS_URL");
  });
});
