using System.Text.Json;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>docker-compose.yml as Debian's docker-compose reads it (<c>config</c> needs no Docker engine).</summary>
public sealed partial class ComposeTests
{
    // The tasks are the demo checkpoints the repository ships, one folder each.
    private static readonly string[] Tasks = [.. Directory.GetDirectories(DeployTools.RepoPath("models", "demo")).Select(Path.GetFileName).Order()!];

    private static readonly Lazy<JsonElement> Config = new(() => DeployTools.Compose("gpu", "cpu"));

    private static Dictionary<string, JsonElement> Services() =>
        Config.Value.GetProperty("services").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);

    private static Dictionary<string, string> Env(JsonElement service) =>
        service.TryGetProperty("environment", out var e) ? e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString()) : [];

    private static string[] Profiles(JsonElement service) =>
        service.TryGetProperty("profiles", out var p) ? [.. p.EnumerateArray().Select(x => x.GetString()!)] : [];

    // "service:/container/path" volume strings: container path -> source.
    private static Dictionary<string, string> Mounts(JsonElement service) =>
        service.TryGetProperty("volumes", out var v)
            ? v.EnumerateArray().Select(x => x.GetString()!.Split(':')).ToDictionary(p => p[1], p => p[0])
            : [];

    [Fact]
    public void Compose_runs_every_role_and_one_inference_process_per_task_in_each_profile()
    {
        Assert.Equal(4, Tasks.Length);
        var services = Services();
        var expected = new[] { "rabbitmq", "postgres", "orthanc", "api", "intake", "prepare", "writeback" }
            .Concat(Tasks.Select(t => $"infer-{t}")).Concat(Tasks.Select(t => $"infer-{t}-cpu"));
        Assert.Equal(expected.Order(), services.Keys.Order());

        foreach (var role in new[] { "intake", "prepare", "writeback" })
        {
            Assert.Empty(Profiles(services[role]));
            Assert.Equal(role, Env(services[role])["Roles"]);
            Assert.EndsWith("/worker.Dockerfile", services[role].GetProperty("build").GetProperty("dockerfile").GetString(), StringComparison.Ordinal);
        }

        foreach (var task in Tasks)
        {
            var gpu = services[$"infer-{task}"];
            Assert.Equal(["gpu"], Profiles(gpu));
            Assert.Equal("infer", Env(gpu)["Roles"]);
            Assert.Equal($"/models/{task}", Assert.Single(Env(gpu), e => e.Key.StartsWith("Inference__Tasks__", StringComparison.Ordinal)).Value);
            Assert.Equal("checkpoints", Mounts(gpu)["/models"]);
            Assert.EndsWith("/worker-gpu.Dockerfile", gpu.GetProperty("build").GetProperty("dockerfile").GetString(), StringComparison.Ordinal);
            var device = Assert.Single(gpu.GetProperty("deploy").GetProperty("resources").GetProperty("reservations").GetProperty("devices").EnumerateArray());
            Assert.Equal("nvidia", device.GetProperty("driver").GetString());
            Assert.Contains("gpu", device.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));

            // The cpu profile's checkpoint path, followed through its bind mount, is the demo checkpoint in the repository.
            var cpu = services[$"infer-{task}-cpu"];
            Assert.Equal(["cpu"], Profiles(cpu));
            Assert.EndsWith("/inference-worker.Dockerfile", cpu.GetProperty("build").GetProperty("dockerfile").GetString(), StringComparison.Ordinal);
            var checkpoint = Env(cpu)[$"Inference__Tasks__{task}"];
            var (target, source) = Mounts(cpu).Single(m => checkpoint.StartsWith(m.Key + "/", StringComparison.Ordinal));
            var onHost = Path.Combine(source, checkpoint[(target.Length + 1)..]);
            Assert.True(File.Exists(Path.Combine(onHost, "checkpoint.json")), $"{checkpoint} is not a checkpoint on the host ({onHost})");
            Assert.Equal("false", Env(cpu)["Inference__PreferCuda"]);
        }
    }

    [Fact]
    public void Every_docpipe_service_is_health_checked_read_only_and_given_time_to_finish_its_batch()
    {
        foreach (var (name, service) in Services().Where(s => s.Value.TryGetProperty("build", out var b) && b.TryGetProperty("dockerfile", out _)))
        {
            var test = string.Join(' ', service.GetProperty("healthcheck").GetProperty("test").EnumerateArray().Select(t => t.GetString()));
            Assert.Contains("http://127.0.0.1:8080/health/ready", test, StringComparison.Ordinal);
            Assert.True(service.GetProperty("read_only").GetBoolean(), name);
            Assert.Contains("/tmp", service.GetProperty("tmpfs").EnumerateArray().Select(t => t.GetString()));
            Assert.Equal("blobs", Mounts(service)["/var/lib/docpipe/blobs"]);
            var dockerfile = DeployTools.RepoPath(service.GetProperty("build").GetProperty("dockerfile").GetString()!);
            Assert.True(File.Exists(dockerfile), dockerfile);

            // Unset, StopTimeout is 5 minutes and compose kills after 10 s: each service says both.
            Assert.True(Env(service).TryGetValue("Pipeline__StopTimeout", out var stop), $"{name}: no Pipeline__StopTimeout");
            Assert.True(service.TryGetProperty("stop_grace_period", out var grace), $"{name}: no stop_grace_period (compose kills after 10 s)");
            Assert.True(Duration(grace.GetString()!) >= TimeSpan.Parse(stop, System.Globalization.CultureInfo.InvariantCulture) + KubernetesTests.HostShutdownMargin,
                $"{name}: stop_grace_period {grace} does not cover Pipeline__StopTimeout {stop} + the host's margin");
        }

        // Intake's folders are mounted where it is told to look.
        var intake = Services()["intake"];
        Assert.Contains(Env(intake)["Intake__DropFolder"], Mounts(intake).Keys);
        Assert.Contains(Env(intake)["Intake__SharedRoot"], Mounts(intake).Keys);
        Assert.False(intake.TryGetProperty("deploy", out var d) && d.TryGetProperty("replicas", out var r) && r.GetInt32() != 1);
    }

    [Fact]
    public void Compose_refuses_to_start_without_the_secrets_it_needs()
    {
        var (code, _, stderr) = DeployTools.Run("docker-compose", ["-f", DeployTools.RepoPath("docker-compose.yml"), "config"],
            environment: new Dictionary<string, string> { ["RABBITMQ_PASSWORD"] = "x", ["DOCPIPE_API_KEY"] = "x", ["ORTHANC_PASSWORD"] = "x", ["POSTGRES_PASSWORD"] = "" });
        Assert.NotEqual(0, code);
        Assert.Contains("POSTGRES_PASSWORD", stderr, StringComparison.Ordinal);
    }

    // Compose's durations: 1m30s, 150s, 2m.
    private static TimeSpan Duration(string text)
    {
        var total = TimeSpan.Zero;
        foreach (Match m in DurationPart().Matches(text))
        {
            var n = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch { "h" => TimeSpan.FromHours(n), "m" => TimeSpan.FromMinutes(n), _ => TimeSpan.FromSeconds(n) };
        }

        return total;
    }

    [GeneratedRegex(@"(\d+)(h|m|s)")]
    private static partial Regex DurationPart();
}
