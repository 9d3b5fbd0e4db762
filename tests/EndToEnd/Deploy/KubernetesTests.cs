using System.Globalization;
using System.Text.Json;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// Each overlay built by <c>kubectl kustomize</c>, every object validated against the Kubernetes and KEDA schemas
/// (tools/k8scheck), then the properties the roles depend on read from that output.
/// </summary>
public sealed class KubernetesTests
{
    private static readonly string[] Tasks = [.. Directory.GetDirectories(DeployTools.RepoPath("models", "demo")).Select(Path.GetFileName).Order()!];

    // The host's shutdown timeout is StopTimeout plus this (PipelineOptions.StopTimeout).
    internal static readonly TimeSpan HostShutdownMargin = TimeSpan.FromSeconds(15);

    public static TheoryData<string> Overlays() => ["cpu-demo", "gpu"];

    private static JsonElement PodSpec(JsonElement deployment) => deployment.GetProperty("spec").GetProperty("template").GetProperty("spec");

    private static JsonElement Container(JsonElement deployment) => Assert.Single(PodSpec(deployment).GetProperty("containers").EnumerateArray());

    private static string Name(JsonElement o) => o.GetProperty("metadata").GetProperty("name").GetString()!;

    private static bool Selects(JsonElement selector, JsonElement deployment)
    {
        var labels = deployment.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels");
        return selector.GetProperty("matchLabels").EnumerateObject().All(l => labels.TryGetProperty(l.Name, out var v) && v.GetString() == l.Value.GetString());
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_role_is_a_Deployment_with_HTTP_probes_a_drain_budget_and_a_read_only_root(string overlay)
    {
        var objects = DeployTools.Kustomize(overlay);
        var deployments = DeployTools.OfKind(objects, "Deployment").ToList();
        var expected = new[] { "api", "intake", "prepare", "writeback" }.Concat(Tasks.Select(t => $"infer-{t}")).Select(r => $"docpipe-{r}");
        Assert.Equal(expected.Order(), deployments.Select(Name).Order());
        Assert.Empty(DeployTools.OfKind(objects, "Secret"));

        foreach (var deployment in deployments)
        {
            var name = Name(deployment);
            var pod = PodSpec(deployment);
            var container = Container(deployment);
            Assert.Equal("/health/ready", container.GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("path").GetString());
            Assert.Equal(8080, container.GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("port").GetInt32());
            Assert.Equal("/health/live", container.GetProperty("livenessProbe").GetProperty("httpGet").GetProperty("path").GetString());
            Assert.Equal(8080, container.GetProperty("livenessProbe").GetProperty("httpGet").GetProperty("port").GetInt32());

            // Graceful drain: the grace period covers the preStop pause plus the time the process finishes its batch.
            var preStop = container.GetProperty("lifecycle").GetProperty("preStop").GetProperty("exec").GetProperty("command").EnumerateArray().Select(c => c.GetString()).ToList();
            Assert.Equal("sleep", preStop[0]);
            var pause = TimeSpan.FromSeconds(int.Parse(preStop[1]!, CultureInfo.InvariantCulture));
            var env = DeployTools.Environment(objects, container);
            var grace = TimeSpan.FromSeconds(pod.GetProperty("terminationGracePeriodSeconds").GetInt32());
            // Unset, StopTimeout is 5 minutes: every Deployment says what it needs.
            Assert.True(env.TryGetValue("Pipeline__StopTimeout", out var stop), $"{name}: no Pipeline__StopTimeout");
            var needed = pause + TimeSpan.Parse(stop!, CultureInfo.InvariantCulture) + HostShutdownMargin;
            Assert.True(grace >= needed, $"{name}: grace {grace} < preStop {pause} + StopTimeout {stop} + {HostShutdownMargin}");
            Assert.Equal(name["docpipe-".Length..].Split('-')[0], env["Roles"]);

            Assert.True(PodSpec(deployment).GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean());
            Assert.True(container.GetProperty("securityContext").GetProperty("readOnlyRootFilesystem").GetBoolean(), name);
            var tmp = container.GetProperty("volumeMounts").EnumerateArray().Single(m => m.GetProperty("mountPath").GetString() == "/tmp").GetProperty("name").GetString();
            Assert.Contains(pod.GetProperty("volumes").EnumerateArray(), v => v.GetProperty("name").GetString() == tmp && v.TryGetProperty("emptyDir", out _));

            // The image is one this repository builds: docpipe-<x> from deploy/docker/<x>.Dockerfile.
            var image = container.GetProperty("image").GetString()!.Split(':')[0];
            Assert.True(File.Exists(DeployTools.RepoPath("deploy", "docker", image["docpipe-".Length..] + ".Dockerfile")), $"{name}: no Dockerfile builds {image}");

            Assert.Single(DeployTools.OfKind(objects, "PodDisruptionBudget"), p => Selects(p.GetProperty("spec").GetProperty("selector"), deployment));
        }

        // Intake: exactly one, never two during a rollout, never scaled.
        var intake = DeployTools.Single(objects, "Deployment", "docpipe-intake");
        Assert.Equal(1, intake.GetProperty("spec").GetProperty("replicas").GetInt32());
        Assert.Equal("Recreate", intake.GetProperty("spec").GetProperty("strategy").GetProperty("type").GetString());
        var intakeEnv = DeployTools.Environment(objects, Container(intake));
        var mounts = Container(intake).GetProperty("volumeMounts").EnumerateArray().Select(m => m.GetProperty("mountPath").GetString()).ToList();
        Assert.Contains(intakeEnv["Intake__DropFolder"], mounts);
        Assert.Contains(intakeEnv["Intake__SharedRoot"], mounts);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void KEDA_scales_prepare_and_each_task_queue_from_zero_and_never_intake(string overlay)
    {
        var objects = DeployTools.Kustomize(overlay);
        var scaled = DeployTools.OfKind(objects, "ScaledObject").ToList();
        Assert.Equal(Tasks.Select(t => $"docpipe-infer-{t}").Append("docpipe-prepare").Order(),
            scaled.Select(s => s.GetProperty("spec").GetProperty("scaleTargetRef").GetProperty("name").GetString()).Order());

        foreach (var so in scaled)
        {
            var keda = KedaRabbitMqTrigger.From(so);
            var spec = so.GetProperty("spec");
            var deployment = DeployTools.Single(objects, "Deployment", spec.GetProperty("scaleTargetRef").GetProperty("name").GetString()!);
            var container = Container(deployment);
            var env = DeployTools.Environment(objects, container);
            Assert.Equal(0, keda.MinReplicas);
            Assert.True(keda.IsActive(1), $"{Name(so)}: one waiting message does not activate it");

            // The management URL comes from a Secret through a TriggerAuthentication, never inline.
            var trigger = spec.GetProperty("triggers")[0];
            Assert.False(trigger.GetProperty("metadata").TryGetProperty("host", out _));
            var auth = DeployTools.Single(objects, "TriggerAuthentication", trigger.GetProperty("authenticationRef").GetProperty("name").GetString()!);
            Assert.Contains(auth.GetProperty("spec").GetProperty("secretTargetRef").EnumerateArray(), r => r.GetProperty("parameter").GetString() == "host");

            if (env["Roles"] == "infer")
            {
                var task = Assert.Single(env.Keys, k => k.StartsWith("Inference__Tasks__", StringComparison.Ordinal))["Inference__Tasks__".Length..];
                Assert.Equal($"infer-{task}", keda.QueueName);
                // value = batch x 2: the batch being decoded plus the one prefetched (InferenceConsumerDefinition).
                Assert.Equal(2 * int.Parse(env["Inference__BatchSize"]!, CultureInfo.InvariantCulture), keda.Value);
                // The cooldown outlasts the model-load budget of the startup probe.
                var startup = container.GetProperty("startupProbe");
                var budget = startup.GetProperty("failureThreshold").GetInt32() * startup.GetProperty("periodSeconds").GetInt32();
                Assert.Equal("/health/ready", startup.GetProperty("httpGet").GetProperty("path").GetString());
                Assert.True(spec.GetProperty("cooldownPeriod").GetInt32() > budget, $"{Name(so)}: cooldown not longer than the {budget} s load budget");
            }
            else
            {
                Assert.Equal("prepare", env["Roles"]);
                Assert.Equal("prepare-document", keda.QueueName);
                // One document per core, and the CPU limit is the process's core count.
                var cpu = int.Parse(container.GetProperty("resources").GetProperty("limits").GetProperty("cpu").GetString()!, CultureInfo.InvariantCulture);
                Assert.Equal(2 * cpu, keda.Value);
            }
        }
    }

    [Fact]
    public void The_gpu_overlay_gives_each_inference_pod_a_GPU_and_the_CUDA_image_and_cpu_demo_the_demo_checkpoints()
    {
        var gpu = DeployTools.Kustomize("gpu");
        var demo = DeployTools.Kustomize("cpu-demo");
        foreach (var task in Tasks)
        {
            var g = Container(DeployTools.Single(gpu, "Deployment", $"docpipe-infer-{task}"));
            Assert.Equal("1", g.GetProperty("resources").GetProperty("limits").GetProperty("nvidia.com/gpu").ToString());
            Assert.StartsWith("docpipe-worker-gpu:", g.GetProperty("image").GetString(), StringComparison.Ordinal);
            Assert.Equal("true", DeployTools.Environment(gpu, g)["Inference__PreferCuda"]);

            var d = Container(DeployTools.Single(demo, "Deployment", $"docpipe-infer-{task}"));
            Assert.False(d.GetProperty("resources").GetProperty("limits").TryGetProperty("nvidia.com/gpu", out _));
            Assert.StartsWith("docpipe-inference-worker:", d.GetProperty("image").GetString(), StringComparison.Ordinal);
            var env = DeployTools.Environment(demo, d);
            Assert.Equal("false", env["Inference__PreferCuda"]);
            // /models is the repository's models/ folder copied into the volume: the path must be a demo checkpoint there.
            var checkpoint = env[$"Inference__Tasks__{task}"]!;
            Assert.StartsWith("/models/", checkpoint, StringComparison.Ordinal);
            Assert.True(File.Exists(DeployTools.RepoPath("models", checkpoint["/models/".Length..], "checkpoint.json")), checkpoint);
        }

        foreach (var other in new[] { "api", "intake", "prepare", "writeback" })
        {
            Assert.False(Container(DeployTools.Single(gpu, "Deployment", $"docpipe-{other}")).GetProperty("resources").GetProperty("limits").TryGetProperty("nvidia.com/gpu", out _));
        }
    }
}
