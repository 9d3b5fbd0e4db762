using System.Diagnostics;
using System.Net;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary><c>/health/live</c> and <c>/health/ready</c> of the real processes, answered by status code.</summary>
public sealed class HealthProbeTests : IAsyncLifetime
{
    private Dictionary<string, string> _env = null!;
    private string _root = null!;
    private Uri _rabbit = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("health");
        (_env, _rabbit, _) = await ServiceProcess.DistributedEnvironmentAsync("health", _root);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_inference_worker_is_not_ready_until_its_model_is_loaded_and_warm()
    {
        // The demo checkpoint, except that checkpoint.json is a FIFO: loading blocks reading it until the test
        // writes it, so "loading" lasts exactly as long as the test needs, on any machine.
        var demo = Path.Combine(TestServices.RepoRoot, "models", "demo", "table");
        var checkpoint = Directory.CreateDirectory(Path.Combine(_root, "table")).FullName;
        foreach (var file in Directory.GetFiles(demo).Where(f => Path.GetFileName(f) != "checkpoint.json"))
        {
            File.CreateSymbolicLink(Path.Combine(checkpoint, Path.GetFileName(file)), Path.GetFullPath(file));
        }

        var fifo = Path.Combine(checkpoint, "checkpoint.json");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var port = ServiceProcess.FreePort();
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), new Dictionary<string, string>(_env)
        {
            ["Inference__Tasks__table"] = checkpoint,
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        Assert.True(await TestServices.EventuallyAsync(async () => (await http.GetAsync("/health/live")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(90)), "the worker does not answer /health/live:\n" + worker.Output);
        using (var loading = await http.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
        }

        // Not ready means not consuming either: no message is taken by a worker that cannot run it yet.
        Assert.Equal(0, await ConsumersAsync("infer-table"));

        // Let the load go on: writing blocks until the worker reads, so it runs off the test's thread with a limit.
        await Task.Run(() => File.WriteAllText(fifo, File.ReadAllText(Path.Combine(demo, "checkpoint.json")))).WaitAsync(TimeSpan.FromSeconds(60));

        HttpStatusCode status = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            using var r = await http.GetAsync("/health/ready");
            status = r.StatusCode;
            return status == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(120)), $"still {status}:\n" + worker.Output);
        Assert.Contains("Serving table with demo-toy-paligemma2-table", worker.Output, StringComparison.Ordinal);
        Assert.True(await TestServices.WaitForConsumerAsync(_rabbit, "infer-table", TimeSpan.FromSeconds(60)), "ready but not consuming infer-table");
    }

    private async Task<int> ConsumersAsync(string queue)
    {
        using var http = TestServices.ManagementClient();
        using var response = await http.GetAsync($"api/queues/{Uri.EscapeDataString(_rabbit.AbsolutePath.TrimStart('/'))}/{queue}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return 0;
        }

        response.EnsureSuccessStatusCode();
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("consumers", out var c) ? c.GetInt32() : 0;
    }

    [Fact]
    public async Task The_api_is_live_but_not_ready_while_postgresql_is_unreachable()
    {
        var closed = ServiceProcess.FreePort();   // nothing listens there
        var port = ServiceProcess.FreePort();
        await using var api = ServiceProcess.Start(ServiceProcess.Dll("Api", "PaliGemma2.DocPipeline.Api"), new Dictionary<string, string>(_env)
        {
            ["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port={closed};Username=postgres;Database=postgres;Timeout=3",
            ["Pipeline__MigrateOnStart"] = "false",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        Assert.True(await TestServices.EventuallyAsync(async () => (await http.GetAsync("/health/live")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(90)), "the API does not answer /health/live:\n" + api.Output);
        using var ready = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var legacy = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, legacy.StatusCode);
    }
}
