using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Inference;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary><c>docpipe process &lt;files|folders&gt; --task &lt;t&gt;</c>: the whole pipeline in this process.</summary>
internal static class ProcessCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        var task = new Option<string>("--task") { Description = "table, molecule, score, report or auto (DICOM)", Required = true };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for preparation (and inference)", DefaultValueFactory = _ => 600 };
        var command = new Command("process", "Ingest files and run them through the pipeline in embedded mode") { paths, task, timeout };
        command.SetAction((result, ct) => RunAsync(result.GetValue(paths)!, result.GetValue(task)!, TimeSpan.FromSeconds(result.GetValue(timeout)), ct));
        return command;
    }

    /// <summary>One input file and the document it became; <paramref name="Note"/> says when it was not a new document.</summary>
    private sealed record Submission(string File, Guid Id, string? Note);

    private static async Task<int> RunAsync(string[] inputs, string task, TimeSpan timeout, CancellationToken ct)
    {
        if (!TaskNames.IsKnown(task))
        {
            CliOutput.Error($"Unknown task '{task}'. Use one of {string.Join(", ", TaskNames.Inference)} or {TaskNames.Auto}.");
            return 2;
        }

        var files = inputs.SelectMany(Expand).DistinctBy(Path.GetFullPath, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            CliOutput.Error("No files found.");
            return 2;
        }

        var (overrides, demo, inferring) = await ChooseCheckpointAsync(task == TaskNames.Auto ? TaskNames.Report : task, ct).ConfigureAwait(false);
        using var host = EmbeddedHost.Build(runPipeline: true, overrides);
        await host.StartAsync(ct).ConfigureAwait(false);
        List<Submission> submitted;
        Dictionary<Guid, Document> rows;
        if (CliOutput.Plain)
        {
            submitted = await IngestAsync(host, files, task, () => { }, ct).ConfigureAwait(false);
            var documents = submitted.Select(s => s.Id).Distinct().Count();
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture,
                $"Ingested {files.Count} file(s) as {documents} document(s); waiting up to {timeout.TotalSeconds:0} s for {(inferring ? "preparation and inference" : "preparation")}."));
            rows = await WaitAsync(host, submitted, inferring, timeout, _ => { }, ct).ConfigureAwait(false);
        }
        else
        {
            (submitted, rows) = await AnsiConsole.Progress().AutoClear(false).Columns(
                    new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var ingest = progress.AddTask("Ingest", maxValue: files.Count);
                    var s = await IngestAsync(host, files, task, () => ingest.Increment(1), ct).ConfigureAwait(false);
                    var prepare = progress.AddTask(inferring ? "Prepare and infer" : "Prepare", maxValue: s.Select(x => x.Id).Distinct().Count());
                    var r = await WaitAsync(host, s, inferring, timeout, finished => prepare.Value = finished, ct).ConfigureAwait(false);
                    return (s, r);
                }).ConfigureAwait(false);
        }

        var ids = submitted.Select(s => s.Id).Distinct().ToList();
        Dictionary<Guid, int> results;
        Dictionary<Guid, Dictionary<JobStatus, int>> jobs;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
            results = (await db.Results.AsNoTracking().Join(db.Jobs, r => r.JobId, j => j.Id, (r, j) => j.DocumentId)
                .Where(id => ids.Contains(id)).ToListAsync(ct).ConfigureAwait(false))
                .GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
            jobs = (await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.DocumentId)).Select(j => new { j.DocumentId, j.Status })
                .ToListAsync(ct).ConfigureAwait(false))
                .GroupBy(j => j.DocumentId).ToDictionary(g => g.Key, g => g.GroupBy(j => j.Status).ToDictionary(s => s.Key, s => s.Count()));
        }

        string Unfinished(Document d) => Why(d, jobs.GetValueOrDefault(d.Id) ?? []);
        var unfinished = ids.Where(id => rows.GetValueOrDefault(id) is not { } d || !IsFinished(d.Status, inferring)).ToList();
        CliOutput.Table(
            ["File", "Document", "Status", "Pages", "Results", "Detail"],
            submitted.Select(s =>
            {
                var d = rows.GetValueOrDefault(s.Id);
                var detail = s.Note ?? (d is null ? "not found in the store" : unfinished.Contains(d.Id) ? Unfinished(d) : d.Error ?? "");
                return (IReadOnlyList<string>)
                [
                    s.File, s.Id.ToString(), d?.Status.ToString().ToLowerInvariant() ?? "?",
                    (d?.Pages.Count ?? 0).ToString(CultureInfo.InvariantCulture),
                    results.GetValueOrDefault(s.Id).ToString(CultureInfo.InvariantCulture), detail,
                ];
            }),
            (column, value) => column == 2 ? value == "failed" ? "red" : "green" : null);

        var byStatus = rows.Values.GroupBy(d => d.Status.ToString().ToLowerInvariant()).Select(g => $"{g.Count()} {g.Key}");
        var duplicates = submitted.Count - ids.Count;
        CliOutput.Line(string.Create(CultureInfo.InvariantCulture,
            $"{submitted.Count} file(s), {ids.Count} document(s) ({duplicates} duplicate file(s)): {string.Join(", ", byStatus)}; {rows.Values.Sum(d => d.Pages.Count)} page(s), {results.Values.Sum()} result(s)."));
        CliOutput.Line($"Store: {EmbeddedHost.DescribeStore(host.Services.GetRequiredService<IConfiguration>())}", "bold");
        if (!inferring)
        {
            var queuedJobs = rows.Values.Where(d => d.Status == DocumentStatus.Queued).Sum(d => d.Pages.Count);
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture,
                $"No checkpoint for this task: {queuedJobs} page job(s) stay queued on {TaskNames.QueueOf(task)}. Add one with: docpipe models add <dir>"));
        }
        else if (demo)
        {
            CliOutput.Warning("These results come from the bundled DEMO checkpoint (toy weights): the text is not meaningful.");
            CliOutput.Warning("Use a real fine-tune: export it with tools/export_paligemma2.py (docs/export.md), then docpipe models add <dir>");
        }

        CliOutput.Line("Query it: docpipe sql \"select task, checkpoint, generated_tokens, raw_text from results\"", "bold");
        if (unfinished.Count > 0)
        {
            CliOutput.Error(string.Create(CultureInfo.InvariantCulture,
                $"Timed out after {timeout.TotalSeconds:0} s with {unfinished.Count} of {ids.Count} document(s) unfinished:"));
            foreach (var id in unfinished)
            {
                var file = submitted.First(s => s.Id == id).File;
                var d = rows.GetValueOrDefault(id);
                CliOutput.Error($"  {id}  {file}  {d?.Status.ToString().ToLowerInvariant() ?? "?"}: {(d is null ? "not found in the store" : Unfinished(d))}");
            }
        }

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        // Failed documents are results too (their reason is stored); only an unfinished run is an error.
        return unfinished.Count == 0 ? 0 : 3;
    }

    /// <summary>
    /// Ingests every file; a file that turns out to be a document already seen (same bytes, or a DICOM file with the
    /// same SOP Instance UID) is reported at once and waited for once.
    /// </summary>
    private static async Task<List<Submission>> IngestAsync(IHost host, List<string> files, string task, Action ingested, CancellationToken ct)
    {
        var submitted = new List<Submission>();
        var firstFile = new Dictionary<Guid, string>();
        foreach (var file in files)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<DocumentIntake>().IngestFileAsync(file, move: false, task, Sources.Cli, fileName: null, ct).ConfigureAwait(false);
            string? note = null;
            if (!result.Created)
            {
                var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
                var existing = await db.Documents.AsNoTracking().Where(d => d.Id == result.DocumentId).Select(d => new { d.Sha256, d.FileName })
                    .FirstAsync(ct).ConfigureAwait(false);
                var sameBytes = string.Equals(existing.Sha256, await Sha256Async(file, ct).ConfigureAwait(false), StringComparison.Ordinal);
                var what = sameBytes ? "same as" : "same SOP Instance UID as";
                note = firstFile.TryGetValue(result.DocumentId, out var first)
                    ? $"{what} {first}"
                    : $"{what} {existing.FileName ?? "a file"} (already in the store)";
                CliOutput.Line($"{file}: {note}; document {result.DocumentId}, counted once");
            }

            firstFile.TryAdd(result.DocumentId, file);
            submitted.Add(new Submission(file, result.DocumentId, note));
            ingested();
        }

        return submitted;
    }

    /// <summary>Polls the store until every document is finished or the deadline passes; returns the last rows read.</summary>
    private static async Task<Dictionary<Guid, Document>> WaitAsync(IHost host, List<Submission> submitted, bool inferring, TimeSpan timeout, Action<int> progress, CancellationToken ct)
    {
        var ids = submitted.Select(s => s.Id).Distinct().ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
            var rows = await db.Documents.AsNoTracking().Include(d => d.Pages).Where(d => ids.Contains(d.Id))
                .ToDictionaryAsync(d => d.Id, ct).ConfigureAwait(false);
            var finished = rows.Values.Count(d => IsFinished(d.Status, inferring));
            progress(finished);
            if (finished == ids.Count || DateTime.UtcNow > deadline)
            {
                return rows;
            }

            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Why a document is not finished, from its status and its jobs.</summary>
    private static string Why(Document d, Dictionary<JobStatus, int> jobs) => d.Status switch
    {
        DocumentStatus.Received => "waiting for preparation (not started)",
        DocumentStatus.Preparing => string.Create(CultureInfo.InvariantCulture, $"preparation started, not finished ({d.Pages.Count} page(s) so far)"),
        DocumentStatus.Queued => string.Create(CultureInfo.InvariantCulture,
            $"waiting for inference: {jobs.GetValueOrDefault(JobStatus.Done)} of {jobs.Values.Sum()} page job(s) done, {jobs.GetValueOrDefault(JobStatus.Running)} running, {jobs.GetValueOrDefault(JobStatus.Queued)} queued, {jobs.GetValueOrDefault(JobStatus.Failed)} failed"),
        _ => d.Error ?? "",
    };

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
        }
    }

    private static bool IsFinished(DocumentStatus status, bool inferring) =>
        status is DocumentStatus.Done or DocumentStatus.Failed or DocumentStatus.Partial || (!inferring && status == DocumentStatus.Queued);

    /// <summary>The task's active registered checkpoint, else the bundled demo checkpoint, else none.</summary>
    private static async Task<(Dictionary<string, string?> Overrides, bool Demo, bool Inferring)> ChooseCheckpointAsync(string task, CancellationToken ct)
    {
        var overrides = new Dictionary<string, string?>();
        using (var probe = EmbeddedHost.Build(runPipeline: false))
        {
            await probe.StartAsync(ct).ConfigureAwait(false);
            await using var scope = probe.Services.CreateAsyncScope();
            var active = await scope.ServiceProvider.GetRequiredService<CheckpointRegistry>().ActiveAsync(task, ct).ConfigureAwait(false);
            await probe.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (active is not null)
            {
                overrides[$"Inference:Tasks:{task}"] = "";
                return (overrides, false, true);
            }
        }

        var demo = EmbeddedHost.FindDemoRoot() is { } root ? Path.Combine(root, task) : null;
        if (demo is null || !Directory.Exists(demo))
        {
            return (overrides, false, false);
        }

        overrides[$"Inference:Tasks:{task}"] = demo;
        overrides["Preparation:DefaultResolution"] = CheckpointInfo.Read(demo).Resolution.ToString(CultureInfo.InvariantCulture);
        return (overrides, true, true);
    }

    // Paths as the user gave them (folders joined with what was found under them): that is what messages show.
    private static IEnumerable<string> Expand(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)
            : File.Exists(path) ? [path] : [];
}
