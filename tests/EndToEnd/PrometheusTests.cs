using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// A real Prometheus (Debian's) on loopback scrapes the API and the workers every second during a pipeline run;
/// the assertions are PromQL over its HTTP API, so they hold only if the processes export what they did.
/// </summary>
public sealed class PrometheusTests : IAsyncLifetime
{
    private const string Key = "metrics-key";
    private Dictionary<string, string> _env = null!;
    private string _root = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("prom");
        (_env, _, _) = await ServiceProcess.DistributedEnvironmentAsync("prom", _root);
        _env["Preparation__DefaultResolution"] = "224";
        _env["Api__Keys__0"] = Key;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Prometheus_sees_pages_processed_and_queue_lag_move_by_the_pages_of_the_run()
    {
        var preparePort = ServiceProcess.FreePort();
        var inferPort = ServiceProcess.FreePort();
        await using var prepare = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), new Dictionary<string, string>(_env)
        {
            ["Roles"] = "intake,prepare",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{preparePort}",
        });
        await using var infer = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), new Dictionary<string, string>(_env)
        {
            ["Inference__Tasks__table"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "table"),
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{inferPort}",
        });
        var (api, client) = await ServiceProcess.StartApiAsync(_env, Key);
        await using var apiProcess = api;
        using var apiClient = client;
        var apiPort = client.BaseAddress!.Port;

        var promPort = ServiceProcess.FreePort();
        var config = Path.Combine(_root, "prometheus.yml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: api
                static_configs: [{"{"} targets: ["127.0.0.1:{apiPort}"] {"}"}]
              - job_name: prepare
                static_configs: [{"{"} targets: ["127.0.0.1:{preparePort}"] {"}"}]
              - job_name: infer
                static_configs: [{"{"} targets: ["127.0.0.1:{inferPort}"] {"}"}]
            """));
        await using var prometheus = StartPrometheus(config, promPort);
        using var prom = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{promPort}") };

        // Every target scraped and up, and the inference worker ready (its model warm) before the run starts.
        using (var ready = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{inferPort}") })
        {
            Assert.True(await TestServices.EventuallyAsync(async () => (await ready.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(120)), infer.Output);
        }

        Assert.True(await TestServices.EventuallyAsync(async () => await QueryAsync(prom, "sum(up)") == 3, TimeSpan.FromSeconds(60)),
            "Prometheus does not scrape all three processes:\n" + prometheus.Output);
        var pagesBefore = await QueryAsync(prom, "sum(docpipe_pages_processed_total)") ?? 0;
        var lagBefore = await QueryAsync(prom, "sum(docpipe_inference_queue_lag_seconds_count)") ?? 0;

        const string file = "ltxtable.pdf";   // 3 pages
        using var form = new MultipartFormDataContent();
        var content = new ByteArrayContent(await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", file)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        form.Add(content, "file", file);
        using var accepted = await apiClient.PostAsync("/v1/documents?task=table", form);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
        var body = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        var documentId = body.GetProperty("id").GetString()!;
        var statusUrl = body.GetProperty("statusUrl").GetString()!;
        JsonElement doc = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await apiClient.GetFromJsonAsync<JsonElement>(statusUrl);
            return doc.GetProperty("status").GetString() == "done";
        }, TimeSpan.FromSeconds(180)), prepare.Output + "\n---\n" + infer.Output);
        var pages = doc.GetProperty("pages").GetArrayLength();
        Assert.Equal(3, pages);

        // The counters move by exactly the run's pages once Prometheus has scraped after the run.
        // The document's last transition (queued → done) is made and counted by the inference worker that stored its last page.
        double? processed = null, lag = null, done = null;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            processed = await QueryAsync(prom, "sum(docpipe_pages_processed_total{task=\"table\",outcome=\"stored\"})");
            lag = await QueryAsync(prom, "sum(docpipe_inference_queue_lag_seconds_count{task=\"table\"})");
            done = await QueryAsync(prom, "sum(docpipe_documents_total{status=\"done\",task=\"table\"})");
            return processed - pagesBefore == pages && lag - lagBefore == pages && done == 1;
        }, TimeSpan.FromSeconds(30)), $"pages processed {processed} (before {pagesBefore}), queue lag count {lag} (before {lagBefore}), documents done {done}");
        Assert.Equal(1, await QueryAsync(prom, "sum(docpipe_documents_total{status=\"queued\",task=\"table\"})"));
        Assert.True(await QueryAsync(prom, "sum(docpipe_inference_batch_size_count)") >= 1);
        Assert.True(await QueryAsync(prom, "sum(docpipe_inference_tokens_total)") >= pages);
        Assert.True(await QueryAsync(prom, "sum(docpipe_inference_decode_duration_milliseconds_count)") >= 1);

        // No label of any pipeline series names the file or the document.
        using var series = await prom.GetAsync("/api/v1/series?match[]=" + Uri.EscapeDataString("{__name__=~\"docpipe_.*\"}"));
        var text = await series.Content.ReadAsStringAsync();
        Assert.Contains("docpipe_pages_processed_total", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ltxtable", text, StringComparison.Ordinal);
        Assert.DoesNotContain(documentId, text, StringComparison.Ordinal);
    }

    private ServiceProcess StartPrometheus(string config, int port)
    {
        Assert.True(File.Exists("/usr/bin/prometheus"), "Debian's prometheus is not installed (scripts/install-deps.sh)");
        return ServiceProcess.StartExecutable("/usr/bin/prometheus", new Dictionary<string, string>(), _root,
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_root, "tsdb")}", $"--web.listen-address=127.0.0.1:{port}");
    }

    /// <summary>The single value of an instant PromQL query; null when it returns no series.</summary>
    private static async Task<double?> QueryAsync(HttpClient prom, string promql)
    {
        using var json = JsonDocument.Parse(await prom.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql)));
        var result = json.RootElement.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 0 ? null : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }
}
