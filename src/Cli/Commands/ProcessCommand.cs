using System.CommandLine;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Contracts;
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

        using var host = EmbeddedHost.Build(runPipeline: true);
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

                var prepare = progress.AddTask("Prepare", maxValue: submitted.Count);
                var deadline = DateTime.UtcNow + timeout;
                while (!ct.IsCancellationRequested)
                {
                    await using var scope = host.Services.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
                    var ids = submitted.Select(s => s.Id).ToList();
                    rows = await db.Documents.AsNoTracking().Include(d => d.Pages).Where(d => ids.Contains(d.Id))
                        .ToDictionaryAsync(d => d.Id, ct).ConfigureAwait(false);
                    var finished = rows.Values.Count(d => d.Status is not (DocumentStatus.Received or DocumentStatus.Preparing));
                    prepare.Value = finished;
                    if (finished == submitted.Count || DateTime.UtcNow > deadline)
                    {
                        break;
                    }

                    await Task.Delay(200, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);

        var table = new Table().AddColumns("File", "Document", "Status", "Pages", "Detail");
        foreach (var (file, id) in submitted)
        {
            var d = rows.GetValueOrDefault(id);
            var status = d?.Status.ToString().ToLowerInvariant() ?? "?";
            var colour = d?.Status == DocumentStatus.Failed ? "red" : "green";
            table.AddRow(Markup.Escape(Path.GetFileName(file)), id.ToString(), $"[{colour}]{status}[/]", (d?.Pages.Count ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(d?.Error ?? ""));
        }

        AnsiConsole.Write(table);
        var queuedJobs = rows.Values.Where(d => d.Status == DocumentStatus.Queued).Sum(d => d.Pages.Count);
        AnsiConsole.MarkupLineInterpolated($"Store: [bold]{EmbeddedHost.DescribeStore(host.Services.GetRequiredService<IConfiguration>())}[/]");
        AnsiConsole.MarkupLineInterpolated(
            $"{queuedJobs} page job(s) are queued on {TaskNames.QueueOf(task)}. This build has no inference stage yet, so the run stops at queued jobs.");
        AnsiConsole.MarkupLine("Query it: [bold]docpipe sql \"select status, count(*) from documents group by status\"[/]");
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        // Failed documents are results too (their reason is stored); only an unfinished run is an error.
        return rows.Count == submitted.Count && rows.Values.All(d => d.Status is not (DocumentStatus.Received or DocumentStatus.Preparing)) ? 0 : 3;
    }

    private static IEnumerable<string> Expand(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)
            : File.Exists(path) ? [Path.GetFullPath(path)] : [];
}
