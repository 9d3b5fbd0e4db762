using System.CommandLine;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Inference;
using PaliGemma2.DocPipeline.Pipeline.Workers;
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
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for preparation", DefaultValueFactory = _ => 600 };
        var command = new Command("process", "Ingest files and run them through the pipeline in embedded mode") { paths, task, timeout };
        command.SetAction((result, ct) => RunAsync(result.GetValue(paths)!, result.GetValue(task)!, TimeSpan.FromSeconds(result.GetValue(timeout)), ct));
        return command;
    }

    private static async Task<int> RunAsync(string[] inputs, string task, TimeSpan timeout, CancellationToken ct)
    {
        if (!TaskNames.IsKnown(task))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Unknown task '{task}'.[/] Use one of {string.Join(", ", TaskNames.Inference)} or {TaskNames.Auto}.");
            return 2;
        }

        var files = inputs.SelectMany(Expand).Distinct(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            AnsiConsole.MarkupLine("[red]No files found.[/]");
            return 2;
        }

        var (overrides, demo, inferring) = await ChooseCheckpointAsync(task == TaskNames.Auto ? TaskNames.Report : task, ct).ConfigureAwait(false);
        using var host = EmbeddedHost.Build(runPipeline: true, overrides);
        await host.StartAsync(ct).ConfigureAwait(false);
        var submitted = new List<(string File, Guid Id)>();
        var rows = new Dictionary<Guid, Document>();

        await AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var ingest = progress.AddTask("Ingest", maxValue: files.Count);
                foreach (var file in files)
                {
                    await using var scope = host.Services.CreateAsyncScope();
                    var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
                    var result = await intake.IngestFileAsync(file, move: false, task, Sources.Cli, ct).ConfigureAwait(false);
                    submitted.Add((file, result.DocumentId));
                    ingest.Increment(1);
                }

                var prepare = progress.AddTask(inferring ? "Prepare and infer" : "Prepare", maxValue: submitted.Count);
                var deadline = DateTime.UtcNow + timeout;
                while (!ct.IsCancellationRequested)
                {
                    await using var scope = host.Services.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
                    var ids = submitted.Select(s => s.Id).ToList();
                    rows = await db.Documents.AsNoTracking().Include(d => d.Pages).Where(d => ids.Contains(d.Id))
                        .ToDictionaryAsync(d => d.Id, ct).ConfigureAwait(false);
                    var finished = rows.Values.Count(d => IsFinished(d.Status, inferring));
                    prepare.Value = finished;
                    // Two files can be one document (same bytes, or the same DICOM instance): count documents, not files.
                    if (finished == ids.Distinct().Count() || DateTime.UtcNow > deadline)
                    {
                        break;
                    }

                    await Task.Delay(200, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);

        var results = new Dictionary<Guid, int>();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
            var ids = submitted.Select(s => s.Id).ToList();
            results = (await db.Results.AsNoTracking().Join(db.Jobs, r => r.JobId, j => j.Id, (r, j) => j.DocumentId)
                .Where(id => ids.Contains(id)).ToListAsync(ct).ConfigureAwait(false))
                .GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        }

        var table = new Table().AddColumns("File", "Document", "Status", "Pages", "Results", "Detail");
        foreach (var (file, id) in submitted)
        {
            var d = rows.GetValueOrDefault(id);
            var status = d?.Status.ToString().ToLowerInvariant() ?? "?";
            var colour = d?.Status == DocumentStatus.Failed ? "red" : "green";
            table.AddRow(Markup.Escape(Path.GetFileName(file)), id.ToString(), $"[{colour}]{status}[/]",
                (d?.Pages.Count ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
                results.GetValueOrDefault(id).ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(d?.Error ?? ""));
        }

        AnsiConsole.Write(table);
        // Without a terminal the progress bars print only their first state; say how it ended.
        var byStatus = rows.Values.GroupBy(d => d.Status.ToString().ToLowerInvariant()).Select(g => $"{g.Count()} {g.Key}");
        AnsiConsole.MarkupLineInterpolated($"{submitted.Count} document(s): {string.Join(", ", byStatus)}; {rows.Values.Sum(d => d.Pages.Count)} page(s), {results.Values.Sum()} result(s).");
        AnsiConsole.MarkupLineInterpolated($"Store: [bold]{EmbeddedHost.DescribeStore(host.Services.GetRequiredService<IConfiguration>())}[/]");
        if (!inferring)
        {
            var queuedJobs = rows.Values.Where(d => d.Status == DocumentStatus.Queued).Sum(d => d.Pages.Count);
            AnsiConsole.MarkupLineInterpolated(
                $"No checkpoint for this task: {queuedJobs} page job(s) stay queued on {TaskNames.QueueOf(task)}. Add one with: docpipe models add <dir>");
        }
        else if (demo)
        {
            AnsiConsole.MarkupLine("[yellow]These results come from the bundled DEMO checkpoint (toy weights): the text is not meaningful.[/]");
            AnsiConsole.MarkupLine("Use a real fine-tune: export it with tools/export_paligemma2.py (docs/export.md), then [bold]docpipe models add <dir>[/].");
        }

        AnsiConsole.MarkupLine("Query it: [bold]docpipe sql \"select task, checkpoint, generated_tokens, raw_text from results\"[/]");
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        // Failed documents are results too (their reason is stored); only an unfinished run is an error.
        return rows.Count == submitted.Select(s => s.Id).Distinct().Count() && rows.Values.All(d => IsFinished(d.Status, inferring)) ? 0 : 3;
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
        overrides["Preparation:DefaultResolution"] = CheckpointInfo.Read(demo).Resolution.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (overrides, true, true);
    }

    private static IEnumerable<string> Expand(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)
            : File.Exists(path) ? [Path.GetFullPath(path)] : [];
}
