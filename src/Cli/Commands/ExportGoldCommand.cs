using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Tasks.Metrics;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// <c>docpipe export-gold --task &lt;t&gt; --out &lt;dir&gt;</c>: writes each reviewed page's accepted result as a gold
/// file in the form <c>docpipe eval --gold</c> reads (<c>&lt;file stem&gt;[.p&lt;index&gt;].&lt;ext&gt;</c>), so a team
/// measures a checkpoint on its own corrected data. The model's output is never exported as gold.
/// </summary>
internal static class ExportGoldCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "table, molecule, score or report", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the gold files to (created)", Required = true };
        var command = new Command("export-gold", "Write accepted (reviewed) results as gold files for docpipe eval") { task, output };
        command.SetAction((result, ct) => RunAsync(result.GetValue(task)!, result.GetValue(output)!, ct));
        return command;
    }

    private static async Task<int> RunAsync(string task, DirectoryInfo outDir, CancellationToken ct)
    {
        if (!TaskNames.Inference.Contains(task))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Unknown task '{task}'.[/]");
            return 2;
        }

        using var host = EmbeddedHost.Build(runPipeline: false);
        await host.StartAsync(ct).ConfigureAwait(false);
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
            var rows = await (
                from c in db.ResultCorrections.AsNoTracking()
                join r in db.Results on c.ResultId equals r.Id
                join j in db.Jobs on r.JobId equals j.Id
                join p in db.Pages on j.PageId equals p.Id
                join d in db.Documents on j.DocumentId equals d.Id
                where c.Task == task
                select new { d.FileName, p.Index, c.Payload, c.ReviewedAt }).ToListAsync(ct).ConfigureAwait(false);

            // Same key as eval's predictions; the latest acceptance per page wins.
            var gold = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var row in rows.OrderBy(r => r.ReviewedAt))
            {
                var stem = Path.GetFileNameWithoutExtension(row.FileName ?? "");
                var key = row.Index == 0 ? stem : string.Create(CultureInfo.InvariantCulture, $"{stem}.p{row.Index}");
                gold[key] = GoldText(task, row.Payload);
            }

            outDir.Create();
            var extension = Evaluation.GoldExtensions(task)[0];
            foreach (var (key, text) in gold)
            {
                await File.WriteAllTextAsync(Path.Combine(outDir.FullName, key + extension), text, ct).ConfigureAwait(false);
            }

            AnsiConsole.MarkupLineInterpolated($"{task}: {gold.Count} gold file(s) written to {outDir.FullName}");
            return gold.Count == 0 ? 1 : 0;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The text eval compares with a prediction of <paramref name="task"/> (report: findings then impression).</summary>
    private static string GoldText(string task, string payload)
    {
        using var doc = JsonDocument.Parse(payload);
        var p = doc.RootElement;
        string? Get(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return task switch
        {
            "table" => Get("html") ?? "",
            "molecule" => Get("smiles") ?? "",
            "score" => Get("kern") ?? "",
            _ => string.Join(' ', new[] { Get("findings"), Get("impression") }.Where(s => !string.IsNullOrEmpty(s))),
        };
    }
}
