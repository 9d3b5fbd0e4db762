// Pages/s through the whole distributed pipeline (drop folder -> preparation -> infer-table -> results in
// PostgreSQL) with 1, 2, ... inference worker processes (third argument, default "1,2"), on the bundled toy checkpoint (CPU).
// Needs the services of scripts/services.sh (DOCPIPE_TEST_* variables); run it with bench/pipeline/run.sh.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

var pages = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 24;
var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var workerCounts = (args.Length > 2 ? args[2] : "1,2").Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
var repo = FindRepo();
var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
var workerDll = Path.Combine(repo, "src", "Worker", "bin", configuration, "net10.0", "PaliGemma2.DocPipeline.Worker.dll");
var inferenceDll = Path.Combine(repo, "src", "InferenceWorker", "bin", configuration, "net10.0", "PaliGemma2.DocPipeline.InferenceWorker.dll");
var demo = Path.Combine(repo, "models", "demo", "table");
var postgres = Env("DOCPIPE_TEST_POSTGRES");
var amqp = new Uri(Env("DOCPIPE_TEST_RABBITMQ"));
var management = new Uri(Env("DOCPIPE_TEST_RABBITMQ_MANAGEMENT"));

Console.WriteLine($"# Distributed pipeline throughput: {pages}-page PDF, toy checkpoint (224 px, up to 64 new tokens), median of {runs} runs");
Console.WriteLine();
Console.WriteLine($"Machine: {Environment.OSVersion}, {Environment.ProcessorCount} cores, {Cpu()}; RabbitMQ + PostgreSQL on loopback");
Console.WriteLine();
Console.WriteLine("| inference workers | pages/s (median) | runs (s) | ratio vs 1 worker |");
Console.WriteLine("|---|---|---|---|");
double? baseline = null;
foreach (var workers in workerCounts)
{
    var times = new List<double>();
    for (var run = 0; run < runs; run++)
    {
        times.Add(await RunOnceAsync(workers, run));
    }

    times.Sort();
    var median = times[times.Count / 2];
    var rate = pages / median;
    baseline ??= rate;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {workers} | {rate:0.00} | {string.Join(", ", times.Select(t => t.ToString("0.0", CultureInfo.InvariantCulture)))} | {rate / baseline.Value:0.00} |"));
}

async Task<double> RunOnceAsync(int workers, int run)
{
    var root = Path.Combine(Path.GetTempPath(), $"docpipe-bench-{Guid.NewGuid():N}");
    Directory.CreateDirectory(root);
    var vhost = $"bench-{Guid.NewGuid():N}";
    using var http = new HttpClient { BaseAddress = new Uri(management.GetLeftPart(UriPartial.Authority) + "/") };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(management.UserInfo))));
    (await http.PutAsync($"api/vhosts/{vhost}", null)).EnsureSuccessStatusCode();
    using (var perms = new StringContent("{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}", Encoding.UTF8, "application/json"))
    {
        (await http.PutAsync($"api/permissions/{vhost}/guest", perms)).EnsureSuccessStatusCode();
    }

    var db = $"bench_{Guid.NewGuid():N}";
    await using (var conn = new NpgsqlConnection(postgres))
    {
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{db}\"", conn);
        await cmd.ExecuteNonQueryAsync();
    }

    var cs = new NpgsqlConnectionStringBuilder(postgres) { Database = db }.ConnectionString;
    var env = new Dictionary<string, string>
    {
        ["Pipeline__Transport"] = "RabbitMq",
        ["ConnectionStrings__RabbitMq"] = new UriBuilder(amqp) { Path = "/" + vhost }.Uri.ToString(),
        ["Storage__Provider"] = "Postgres",
        ["ConnectionStrings__Postgres"] = cs,
        ["Storage__BlobRoot"] = Path.Combine(root, "blobs"),
        ["Intake__DropFolder"] = "",
        ["Intake__SharedRoot"] = "",
        ["Preparation__DefaultResolution"] = "224",
        ["Logging__LogLevel__Default"] = "Warning",
        // Every process serves its probes and /metrics; port 0 lets the system pick one each.
        ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
    };
    var processes = new List<Process>
    {
        Start(workerDll, new Dictionary<string, string>(env) { ["Intake__DropFolder"] = Path.Combine(root, "inbox"), ["Intake__StableFor"] = "00:00:00.200" }),
    };
    for (var i = 0; i < workers; i++)
    {
        processes.Add(Start(inferenceDll, new Dictionary<string, string>(env)
        {
            ["Inference__Tasks__table"] = demo,
            ["Inference__WorkerName"] = $"bench-{i}",
            // Share the cores between the worker processes instead of oversubscribing them.
            ["Inference__IntraOpThreads"] = Math.Max(1, Environment.ProcessorCount / workers).ToString(CultureInfo.InvariantCulture),
        }));
    }

    try
    {
        // Ready = every inference worker consumes infer-table (it loads and warms up its model first).
        await Until(async () =>
        {
            using var r = await http.GetAsync($"api/queues/{vhost}/infer-table");
            if (!r.IsSuccessStatusCode)
            {
                return false;
            }

            using var q = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            return q.RootElement.TryGetProperty("consumers", out var c) && c.GetInt32() == workers;
        }, TimeSpan.FromMinutes(2));

        var inbox = Path.Combine(root, "inbox", "table");
        Directory.CreateDirectory(inbox);
        var staging = Path.Combine(inbox, ".doc.pdf");
        await File.WriteAllBytesAsync(staging, BuildPdf(pages, $"{workers}-{run}"));
        var sw = Stopwatch.StartNew();
        File.Move(staging, Path.Combine(inbox, "doc.pdf"));
        await Until(async () =>
        {
            // A crashed process would otherwise turn into a 20-minute wait.
            if (processes.FirstOrDefault(p => p.HasExited) is { } dead)
            {
                throw new InvalidOperationException($"a pipeline process exited with code {dead.ExitCode}");
            }

            return await CountAsync(cs, "select count(*) from results") == pages;
        }, TimeSpan.FromMinutes(20));
        return sw.Elapsed.TotalSeconds;
    }
    finally
    {
        foreach (var p in processes)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            p.Dispose();
        }

        Directory.Delete(root, recursive: true);
    }
}

Process Start(string dll, Dictionary<string, string> env)
{
    var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
    psi.ArgumentList.Add(dll);
    foreach (var (k, v) in env)
    {
        psi.Environment[k] = v;
    }

    var p = Process.Start(psi)!;
    p.OutputDataReceived += (_, _) => { };
    p.ErrorDataReceived += (_, _) => { };
    p.BeginOutputReadLine();
    p.BeginErrorReadLine();
    return p;
}

static async Task<long> CountAsync(string cs, string sql)
{
    try
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
    catch (PostgresException)
    {
        return -1; // schema not migrated yet
    }
}

static async Task Until(Func<Task<bool>> condition, TimeSpan timeout)
{
    var deadline = DateTime.UtcNow + timeout;
    while (!await condition())
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException("benchmark step did not finish in time");
        }

        await Task.Delay(50);
    }
}

static byte[] BuildPdf(int pages, string salt)
{
    var builder = new PdfDocumentBuilder();
    var font = builder.AddStandard14Font(Standard14Font.Helvetica);
    for (var i = 0; i < pages; i++)
    {
        var page = builder.AddPage(PageSize.A4);
        for (var line = 0; line < 30; line++)
        {
            page.AddText($"{salt} page {i + 1} row {line + 1}: {(i * 31) + (line * 7)} | {line * 1.25:0.00}", 10, new UglyToad.PdfPig.Core.PdfPoint(50, 800 - (line * 22)), font);
        }
    }

    return builder.Build();
}

static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : throw new InvalidOperationException($"{name} is not set: run bench/pipeline/run.sh");

static string Cpu() => File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
    : "unknown CPU";

static string FindRepo()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("repository root not found");
}
