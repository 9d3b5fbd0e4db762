using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;
using PaliGemma2.DocPipeline.Pipeline.Tests;
using PaliGemma2.DocPipeline.Tests.Shared;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;
using Xunit.Abstractions;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// Issue 12's chaos harness: the Api, a preparation worker and two inference workers (demo table checkpoint) as
/// separate processes over a PostgreSQL and a RabbitMQ of the test's own, fed PDFs, a page on which the model writes
/// U+0000 and hostile files, while it kills -9 the preparation worker and an inference worker mid-batch, restarts
/// RabbitMQ and PostgreSQL and SIGTERMs a worker, restarting each process as a supervisor would. Then every document
/// must be terminal, each done document have one result per page, no job be duplicated or left running, and every
/// message in an error queue belong to a failed job.
/// In the test command it runs a short setting (300 pages, one round of faults); bench/chaos/run.sh runs a longer
/// one (DOCPIPE_CHAOS_PAGES, DOCPIPE_CHAOS_ROUNDS, DOCPIPE_CHAOS_BOMB=1 adds the 1.5 GiB content bomb).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Key = "chaos-key";
    private const int PagesPerPdf = 25;
    private readonly string _root = TestServices.NewTempDirectory("chaos");
    private readonly List<(string Name, ServiceProcess Process)> _processes = [];
    private readonly ConcurrentBag<string> _log = [];
    private ChaosCluster _cluster = null!;
    private Dictionary<string, string> _env = null!;

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    public async Task InitializeAsync()
    {
        _cluster = await ChaosCluster.StartAsync(_root);
        _env = new Dictionary<string, string>(_cluster.Environment(_cluster.RabbitMq, Key))
        {
            // Every worker serves its probes and /metrics; port 0 keeps side-by-side processes apart.
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["Preparation__DefaultResolution"] = "224",
            // Small renderer chunks keep a document in 'preparing' long enough to kill the worker there.
            ["Preparation__Pdf__PagesPerRun"] = "5",
            ["Preparation__Sandbox__MemoryLimitBytes"] = (1536L << 20).ToString(CultureInfo.InvariantCulture),
            ["Preparation__Pdf__TimeoutPerPage"] = "00:01:30",
            // Short leases and a quick recovery loop: a lost message costs seconds here, not minutes.
            ["Recovery__Interval"] = "00:00:02",
            ["Recovery__PreparationLease"] = "00:00:20",
            ["Recovery__InferenceLease"] = "00:00:20",
            ["Intake__RepublishAfter"] = "00:00:10",
            ["Intake__PublishTimeout"] = "00:00:05",
            ["Inference__IntraOpThreads"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
        };
    }

    public async Task DisposeAsync()
    {
        foreach (var (_, p) in _processes)
        {
            await p.DisposeAsync();
        }

        await _cluster.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private ServiceProcess Worker(string name, string dll, Dictionary<string, string> extra)
    {
        var env = new Dictionary<string, string>(_env);
        foreach (var (k, v) in extra)
        {
            env[k] = v;
        }

        var p = ServiceProcess.Start(dll, env);
        _processes.Add((name, p));
        return p;
    }

    // Intake (recovery) and preparation; inference workers serve infer-table with the demo checkpoint.
    private ServiceProcess StartPreparation() => Worker("prepare", ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), new() { ["Roles"] = "intake,prepare" });

    private ServiceProcess StartInference(string name) => Worker(name, ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), new()
    {
        ["Inference__Tasks__table"] = NulOutputPage.DemoTable,
        ["Inference__WorkerName"] = name,
    });

    [Fact]
    public async Task Every_document_ends_once_through_kills_and_broker_and_database_restarts()
    {
        var pages = Setting("DOCPIPE_CHAOS_PAGES", 300);
        var rounds = Setting("DOCPIPE_CHAOS_ROUNDS", 1);
        var bomb = Setting("DOCPIPE_CHAOS_BOMB", 0) == 1;
        var clock = Stopwatch.StartNew();

        // The workload: PDFs of 25 pages, a page on which the demo model writes U+0000 with neighbours, hostile files.
        var files = new List<(string Path, string Kind, string? ExpectedStatus, string? ExpectedCode)>();
        var folder = Directory.CreateDirectory(Path.Combine(_root, "in")).FullName;
        for (var d = 0; d * PagesPerPdf < pages; d++)
        {
            var path = Path.Combine(folder, $"report-{d:D3}.pdf");
            await File.WriteAllBytesAsync(path, BuildPdf(d, PagesPerPdf));
            files.Add((path, "pdf", "done", null));
        }

        foreach (var seed in new[] { 3, NulOutputPage.NulSeed, 4, 5 })
        {
            files.Add((NulOutputPage.WritePng(seed, folder), seed == NulOutputPage.NulSeed ? "nul" : "png", "done", null));
        }

        var hostile = Path.Combine(_root, "hostile");
        using (var generate = Process.Start(new ProcessStartInfo("/usr/bin/python3", [Path.Combine(TestServices.RepoRoot, "tools", "hostile", "generate.py"), hostile]))!)
        {
            await generate.WaitForExitAsync();
            Assert.Equal(0, generate.ExitCode);
        }

        foreach (var f in File.ReadAllLines(Path.Combine(hostile, ".expected.tsv")).Skip(1).Select(l => l.Split('\t')))
        {
            if (f[0] == "bomb.pdf" && !bomb)
            {
                continue;
            }

            files.Add((Path.Combine(hostile, f[0]), "hostile", f[1], f[1] == "failed" ? f[2] : null));
        }

        var api = StartApi();
        var prepare = StartPreparation();
        var inferA = StartInference("infer-a");
        var inferB = StartInference("infer-b");
        using var client = new HttpClient { BaseAddress = api.Url, Timeout = TimeSpan.FromSeconds(100) };
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        Assert.True(await TestServices.EventuallyAsync(async () => (await client.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(90)), Tails());
        Assert.True(await _cluster.WaitForConsumersAsync("prepare-document", 1, TimeSpan.FromSeconds(90)), Tails());
        Assert.True(await _cluster.WaitForConsumersAsync("infer-table", 2, TimeSpan.FromSeconds(120)), Tails());
        Log($"processes up after {clock.Elapsed.TotalSeconds:F0} s");

        // Upload everything; a file the Api refuses at the door (the empty one) is recorded with its status.
        var accepted = new Dictionary<Guid, (string Path, string Kind, string? ExpectedStatus, string? ExpectedCode)>();
        var refused = new List<(string Path, HttpStatusCode Status)>();
        foreach (var file in files)
        {
            // A client that honours 503 + Retry-After (a busy machine can be slow to confirm a publish): the same
            // bytes sent again are the same document.
            (HttpStatusCode Status, Guid? Id, string? RetryAfter) sent = default;
            await TestServices.EventuallyAsync(async () => (sent = await UploadAsync(client, file.Path)).Status != HttpStatusCode.ServiceUnavailable, TimeSpan.FromMinutes(2));
            var (status, id, _) = sent;
            if (status is HttpStatusCode.Accepted or HttpStatusCode.OK)
            {
                accepted[id!.Value] = file;
            }
            else
            {
                refused.Add((file.Path, status));
            }
        }

        Assert.All(refused, r => Assert.True(Path.GetFileName(r.Path) == "zero_bytes.pdf" && r.Status == HttpStatusCode.BadRequest, $"{r.Path}: {r.Status}"));
        var expectedPages = accepted.Values.Count(f => f.Kind == "pdf") * PagesPerPdf;
        Log($"{accepted.Count} documents accepted ({refused.Count} refused at the door) after {clock.Elapsed.TotalSeconds:F0} s");

        var faults = new List<(string Fault, Task<TimeSpan> Recovery)>();
        var faultCount = 5 * rounds;
        var results0 = 0L;
        async Task WaitForProgressAsync(int fault)
        {
            // Faults spread over the run: fault i waits until (i + 1) / (n + 2) of the PDF pages have results.
            var target = (long)expectedPages * (fault + 1) / (faultCount + 2);
            await TestServices.EventuallyAsync(async () => (results0 = await CountAsync("select count(*) from results")) >= target, TimeSpan.FromMinutes(5));
        }

        var fault = 0;
        Guid? outageDocument = null;
        for (var round = 0; round < rounds; round++)
        {
            // 1. kill -9 the preparation worker while it renders (if anything is left to prepare), then restart it.
            await WaitForProgressAsync(fault++);
            await TestServices.EventuallyAsync(async () => await CountAsync("select count(*) from documents where status in ('received', 'preparing')") == 0
                || await CountAsync("select count(*) from documents where status = 'preparing'") > 0, TimeSpan.FromSeconds(60));
            var preparing = await IdsAsync("select id from documents where status = 'preparing'");
            var t = Stopwatch.StartNew();
            await KillAsync(prepare);
            Log($"kill -9 preparation worker ({preparing.Count} document(s) preparing)");
            prepare = StartPreparation();
            faults.Add(("kill -9 preparation worker", RecoveredAsync(t, async () =>
                preparing.Count == 0
                    ? await _cluster.WaitForConsumersAsync("prepare-document", 1, TimeSpan.Zero)
                    : await CountAsync($"select count(*) from documents where status in ('received', 'preparing') and id in ({In(preparing)})") == 0)));

            // 2. kill -9 an inference worker while it holds a batch, then restart it.
            await WaitForProgressAsync(fault++);
            var (victim, running) = await KillMidBatchAsync(inferA, "infer-a");
            t = Stopwatch.StartNew();
            inferA = StartInference("infer-a");
            faults.Add(($"kill -9 inference worker mid-batch ({running.Count} job(s))", RecoveredAsync(t, () => JobsEndedAsync(running))));
            Log($"kill -9 {victim} with {running.Count} running job(s)");

            // 3. restart RabbitMQ; an upload while it is down is answered 503 + Retry-After, and finished later.
            await WaitForProgressAsync(fault++);
            t = Stopwatch.StartNew();
            await _cluster.StopRabbitMqAsync();
            if (outageDocument is null)
            {
                var outageFile = Path.Combine(folder, "during-broker-outage.pdf");
                await File.WriteAllBytesAsync(outageFile, BuildPdf(9999, 2));
                var (status, _, retryAfter) = await UploadAsync(client, outageFile);
                Assert.True(status == HttpStatusCode.ServiceUnavailable && retryAfter is not null, $"upload while the broker is down: {status}, Retry-After {retryAfter}");
                await _cluster.StartRabbitMqAsync();
                // The client retries: the same bytes are the same document (200, duplicate) or, had nothing been stored, a new one.
                (HttpStatusCode Status, Guid? Id, string? RetryAfter) retry = default;
                Assert.True(await TestServices.EventuallyAsync(async () =>
                    (retry = await UploadAsync(client, outageFile)).Status is HttpStatusCode.OK or HttpStatusCode.Accepted, TimeSpan.FromSeconds(90)), $"retry: {retry.Status}");
                outageDocument = retry.Id!.Value;
                accepted[outageDocument.Value] = (outageFile, "pdf2", "done", null);
            }
            else
            {
                await _cluster.StartRabbitMqAsync();
            }

            var upCount = await CountAsync("select count(*) from results");
            faults.Add(("restart RabbitMQ", RecoveredAsync(t, async () => await CountAsync("select count(*) from results") > upCount)));
            Log($"RabbitMQ restarted in {t.Elapsed.TotalSeconds:F1} s");

            // 4. restart PostgreSQL: the Api's next request, on a pool of dead connections, must succeed.
            await WaitForProgressAsync(fault++);
            var probe = accepted.Keys.First();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/documents/{probe}")).StatusCode);
            t = Stopwatch.StartNew();
            var before = await CountAsync("select count(*) from results");
            await _cluster.StopPostgresAsync();
            await _cluster.StartPostgresAsync();
            using (var first = await client.GetAsync($"/v1/documents/{probe}"))
            {
                Assert.True(first.StatusCode == HttpStatusCode.OK, $"first Api request after the PostgreSQL restart: {(int)first.StatusCode} {await first.Content.ReadAsStringAsync()}");
            }

            faults.Add(("restart PostgreSQL", RecoveredAsync(t, async () => await CountAsync("select count(*) from results") > before)));
            Log($"PostgreSQL restarted; first Api request 200 after {t.Elapsed.TotalSeconds:F1} s");

            // 5. SIGTERM an inference worker (as an orchestrator stops it) while it holds a batch, then start it again.
            await WaitForProgressAsync(fault++);
            var jobs = await WaitForRunningJobsAsync("infer-b");
            t = Stopwatch.StartNew();
            inferB.Terminate();
            var exit = await inferB.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Log($"SIGTERM infer-b with {jobs.Count} running job(s): exit {exit} after {t.Elapsed.TotalSeconds:F1} s");
            inferB = StartInference("infer-b");
            faults.Add(($"SIGTERM inference worker ({jobs.Count} job(s))", RecoveredAsync(t, () => JobsEndedAsync(jobs))));
        }

        // Every document terminal.
        var terminal = await TestServices.EventuallyAsync(async () =>
            await CountAsync("select count(*) from documents where status not in ('done', 'partial', 'failed')") == 0, TimeSpan.FromMinutes(Math.Max(5, pages / 60)));
        var elapsed = clock.Elapsed;
        Assert.True(terminal, "documents not terminal:\n" + string.Join("\n", await RowsAsync(
            "select file_name || ' ' || status || ' ' || coalesce(error, '') from documents where status not in ('done', 'partial', 'failed')")) + "\n" + Tails());

        var recoveries = new List<(string Fault, TimeSpan Time)>();
        foreach (var (name, recovery) in faults)
        {
            try
            {
                recoveries.Add((name, await recovery.WaitAsync(TimeSpan.FromSeconds(30))));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"no recovery after: {name}");
            }
        }

        // Nothing lost: every accepted document is stored and ended as expected; every page of a PDF was prepared.
        var rows = (await RowsAsync("select id::text || '|' || status || '|' || coalesce(reason_code, '') || '|' || coalesce(error, '') from documents"))
            .Select(r => r.Split('|', 4)).ToDictionary(r => Guid.Parse(r[0]), r => (Status: r[1], Code: r[2], Error: r[3]));
        var lost = accepted.Keys.Count(id => !rows.ContainsKey(id));
        foreach (var (id, file) in accepted)
        {
            if (!rows.TryGetValue(id, out var row))
            {
                continue;
            }

            Assert.True(row.Status == file.ExpectedStatus, $"{Path.GetFileName(file.Path)}: {row.Status} ({row.Code}) {row.Error}, expected {file.ExpectedStatus}");
            if (file.ExpectedCode is not null)
            {
                Assert.True(row.Code == file.ExpectedCode, $"{Path.GetFileName(file.Path)}: reason {row.Code}, expected {file.ExpectedCode}");
            }
        }

        var pdfIds = accepted.Where(a => a.Value.Kind == "pdf").Select(a => a.Key).ToList();
        lost += (int)(expectedPages - await CountAsync($"select count(*) from pages where document_id in ({In(pdfIds)})"));
        // Results = pages for done documents; nothing duplicated; nothing left running.
        lost += (int)await CountAsync("select count(*) from pages p join documents d on d.id = p.document_id where d.status = 'done' and not exists (select 1 from results r join jobs j on j.id = r.job_id where j.page_id = p.id)");
        var duplicated = await CountAsync("select count(*) - count(distinct job_id) from results")
            + await CountAsync("select coalesce(sum(n - 1), 0)::bigint from (select count(*) n from jobs group by page_id, task) x")
            + await CountAsync("select coalesce(sum(n - 1), 0)::bigint from (select count(*) n from pages group by document_id, index) x");
        var unfinishedJobs = await CountAsync("select count(*) from jobs where status in ('queued', 'running')");
        var (errorMessages, unmatched) = await ErrorQueuesAsync();

        // The page on which the model writes U+0000 is stored readable.
        var nul = accepted.Single(a => a.Value.Kind == "nul").Key;
        var nulText = await RowsAsync($"select r.raw_text from results r join jobs j on j.id = r.job_id where j.document_id = '{nul}'");
        var documentCount = accepted.Count;
        var pageCount = await CountAsync("select count(*) from pages");
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"chaos: {documentCount} documents ({refused.Count} more refused at the door), {pageCount} pages, {faults.Count} faults injected in {rounds} round(s), {elapsed.TotalSeconds:F0} s")
            .AppendLine(CultureInfo.InvariantCulture, $"chaos: documents done {rows.Values.Count(r => r.Status == "done")}, partial {rows.Values.Count(r => r.Status == "partial")}, failed {rows.Values.Count(r => r.Status == "failed")}")
            .AppendLine(CultureInfo.InvariantCulture, $"chaos: lost {lost}, duplicated {duplicated}, jobs left queued/running {unfinishedJobs}, error-queue messages {errorMessages} (not matched by a failed job: {unmatched})")
            .AppendLine(CultureInfo.InvariantCulture, $"chaos: max recovery time {recoveries.Max(r => r.Time).TotalSeconds:F1} s");
        foreach (var (name, time) in recoveries)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"chaos:   {name}: recovered in {time.TotalSeconds:F1} s");
        }

        foreach (var line in _log)
        {
            report.AppendLine("log: " + line);
        }

        output.WriteLine(report.ToString());
        if (Environment.GetEnvironmentVariable("DOCPIPE_CHAOS_REPORT") is { Length: > 0 } reportFile)
        {
            await File.WriteAllTextAsync(reportFile, report.ToString());
        }

        Assert.True(pages <= pageCount, $"{pageCount} pages");
        Assert.Equal(0, lost);
        Assert.Equal(0, duplicated);
        Assert.Equal(0, unfinishedJobs);
        Assert.Equal(0, unmatched);
        Assert.Equal(5 * rounds, faults.Count);
        Assert.Equal("done", rows[nul].Status);
        Assert.Contains(nulText, t => t.Contains('\uFFFD', StringComparison.Ordinal));
    }

    private static string In(IEnumerable<Guid> ids) => ids.Any() ? string.Join(", ", ids.Select(i => $"'{i}'")) : "null";

    private void Log(string line) => _log.Add($"{DateTime.UtcNow:HH:mm:ss} {line}");

    private async Task<(string Victim, List<Guid> Running)> KillMidBatchAsync(ServiceProcess worker, string name)
    {
        var running = await WaitForRunningJobsAsync(name);
        await KillAsync(worker);
        return (name, running);
    }

    /// <summary>kill -9, with its children (renderer, decoder sandbox) so none outlives the test.</summary>
    private static async Task KillAsync(ServiceProcess process)
    {
        process.Kill();
        await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>The jobs <paramref name="worker"/> holds, once it holds some (up to a minute).</summary>
    private async Task<List<Guid>> WaitForRunningJobsAsync(string worker)
    {
        var running = new List<Guid>();
        await TestServices.EventuallyAsync(async () =>
            (running = await IdsAsync($"select id from jobs where status = 'running' and worker = '{worker}'")).Count > 0, TimeSpan.FromMinutes(1));
        return running;
    }

    private async Task<bool> JobsEndedAsync(List<Guid> jobs) =>
        jobs.Count == 0 || await CountAsync($"select count(*) from jobs where status in ('queued', 'running') and id in ({In(jobs)})") == 0;

    /// <summary>Time from the fault until <paramref name="recovered"/> holds, polled in the background.</summary>
    private static async Task<TimeSpan> RecoveredAsync(Stopwatch since, Func<Task<bool>> recovered)
    {
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        do
        {
            try
            {
                if (await recovered())
                {
                    return since.Elapsed;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or HttpRequestException or IOException or TimeoutException)
            {
                // The database or broker is down for another fault: keep polling.
            }
        }
        while (await poll.WaitForNextTickAsync());

        throw new InvalidOperationException("unreachable: the poll timer is never disposed while polling");
    }

    private async Task<(int Messages, int Unmatched)> ErrorQueuesAsync()
    {
        using var http = _cluster.Management();
        using var queues = JsonDocument.Parse(await http.GetStringAsync("api/queues/%2F"));
        var messages = 0;
        var unmatched = 0;
        foreach (var q in queues.RootElement.EnumerateArray())
        {
            var name = q.GetProperty("name").GetString()!;
            if (!name.EndsWith("_error", StringComparison.Ordinal) || q.GetProperty("messages").GetInt32() == 0)
            {
                continue;
            }

            using var body = JsonContent.Create(new { count = 10000, ackmode = "ack_requeue_true", encoding = "auto" });
            using var response = await http.PostAsync($"api/queues/%2F/{name}/get", body);
            using var got = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            foreach (var m in got.RootElement.EnumerateArray())
            {
                messages++;
                using var envelope = JsonDocument.Parse(m.GetProperty("payload").GetString()!);
                var message = envelope.RootElement.GetProperty("message");
                var matched = message.TryGetProperty("jobId", out var job)
                    ? await CountAsync($"select count(*) from jobs where id = '{job.GetGuid()}' and status = 'failed'") == 1
                    : message.TryGetProperty("documentId", out var doc)
                      && await CountAsync($"select count(*) from documents where id = '{doc.GetGuid()}' and status = 'failed'") == 1;
                if (!matched)
                {
                    unmatched++;
                    Log($"unmatched in {name}: {envelope.RootElement.GetProperty("message")}");
                }
            }
        }

        return (messages, unmatched);
    }

    private (Uri Url, ServiceProcess Process) StartApi()
    {
        var port = ServiceProcess.FreePort();
        var p = ServiceProcess.Start(ServiceProcess.Dll("Api", "PaliGemma2.DocPipeline.Api"),
            new Dictionary<string, string>(_env) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });
        _processes.Add(("api", p));
        return (new Uri($"http://127.0.0.1:{port}"), p);
    }

    private static async Task<(HttpStatusCode Status, Guid? Id, string? RetryAfter)> UploadAsync(HttpClient client, string path)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(await File.ReadAllBytesAsync(path));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", Path.GetFileName(path));
        using var response = await client.PostAsync("/v1/documents?task=table", form);
        Guid? id = null;
        if (response.IsSuccessStatusCode)
        {
            id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }

        return (response.StatusCode, id, response.Headers.RetryAfter?.ToString());
    }

    // The last lines each process wrote, for failure messages.
    private string Tails() => string.Join("\n", _processes.Select(p => $"--- {p.Name} ---\n" + (p.Process.Output is { Length: > 6000 } o ? o[^6000..] : p.Process.Output)));

    private Task<long> CountAsync(string sql) => TestServices.ScalarAsync<long>(_cluster.Postgres, sql);

    private async Task<List<Guid>> IdsAsync(string sql) => (await RowsAsync(sql.Replace("select id ", "select id::text ", StringComparison.Ordinal))).Select(Guid.Parse).ToList();

    private Task<List<string>> RowsAsync(string sql) => TestServices.ColumnAsync(_cluster.Postgres, sql);

    private static byte[] BuildPdf(int document, int pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        for (var i = 0; i < pages; i++)
        {
            var page = builder.AddPage(PageSize.A4);
            for (var line = 0; line < 30; line++)
            {
                page.AddText($"Report {document} page {i + 1} row {line + 1}: {(document * 7) + line} | {i * 3.5:F1} | {line * 1.25:F2}", 10,
                    new PdfPoint(50, 800 - (line * 22)), font);
            }
        }

        return builder.Build();
    }
}
