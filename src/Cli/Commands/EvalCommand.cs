using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Tasks.Metrics;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// <c>docpipe eval --task &lt;t&gt; --gold &lt;dir&gt;</c>: compares stored results with gold files and prints the
/// paper's metrics. A gold file is named after the document's file stem (<c>invoice-7.html</c>), with
/// <c>.p&lt;index&gt;</c> for pages after the first (<c>invoice-7.p2.html</c>); the latest result per page counts.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "table, molecule, score or report", Required = true };
        var gold = new Option<DirectoryInfo>("--gold") { Description = "Folder of gold files (.html, .smi, .krn, .txt)", Required = true };
        var perItem = new Option<string?>("--per-item") { Description = "Also print each pair's scores: csv (worst first)" };
        perItem.AcceptOnlyFromAmong("csv");
        var command = new Command("eval", "Score stored results against gold files with the paper's metrics") { task, gold, perItem };
        command.SetAction((result, ct) => RunAsync(result.GetValue(task)!, result.GetValue(gold)!, result.GetValue(perItem) == "csv", ct));
        return command;
    }

    private static async Task<int> RunAsync(string task, DirectoryInfo goldDir, bool perItemCsv, CancellationToken ct)
    {
        if (!TaskNames.Inference.Contains(task))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Unknown task '{task}'.[/]");
            return 2;
        }

        if (!goldDir.Exists)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Gold folder '{goldDir.FullName}' does not exist.[/]");
            return 2;
        }

        var extensions = Evaluation.GoldExtensions(task);
        var gold = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in goldDir.EnumerateFiles().Where(f => extensions.Contains(f.Extension, StringComparer.OrdinalIgnoreCase)).OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            gold.TryAdd(Path.GetFileNameWithoutExtension(file.Name), await File.ReadAllTextAsync(file.FullName, ct).ConfigureAwait(false));
        }

        using var host = EmbeddedHost.Build(runPipeline: false);
        await host.StartAsync(ct).ConfigureAwait(false);
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
            var rows = await (
                from r in db.Results.AsNoTracking()
                join j in db.Jobs on r.JobId equals j.Id
                join p in db.Pages on j.PageId equals p.Id
                join d in db.Documents on j.DocumentId equals d.Id
                where r.Task == task
                select new { d.FileName, p.Index, r.Payload, r.RawText, r.CreatedAt }).ToListAsync(ct).ConfigureAwait(false);

            var predictions = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var row in rows.OrderBy(r => r.CreatedAt))
            {
                var stem = Path.GetFileNameWithoutExtension(row.FileName ?? "");
                var key = row.Index == 0 ? stem : string.Create(CultureInfo.InvariantCulture, $"{stem}.p{row.Index}");
                predictions[key] = Prediction(task, row.Payload, row.RawText); // later results replace earlier ones
            }

            var canonical = "";
            if (task == TaskNames.Molecule && db.Database.IsNpgsql())
            {
                // Exact match is over canonical SMILES: RDKit in PostgreSQL canonicalises both sides.
                var conn = (NpgsqlConnection)db.Database.GetDbConnection();
                await conn.OpenAsync(ct).ConfigureAwait(false);
                predictions = await CanonicalAsync(conn, predictions, ct).ConfigureAwait(false);
                gold = await CanonicalAsync(conn, gold, ct).ConfigureAwait(false);
                canonical = " (canonical SMILES by RDKit)";
            }
            else if (task == TaskNames.Molecule)
            {
                canonical = " (SMILES as written: no RDKit in embedded mode)";
            }

            var report = Evaluation.Evaluate(task, predictions, gold);
            var table = new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned()).AddColumn("pairs").AddColumn("definition");
            foreach (var m in report.Metrics)
            {
                var pairs = report.Items.Count(i => i.Values.ContainsKey(m.Name));
                table.AddRow(
                    Markup.Escape(m.Name),
                    m.Value is { } v ? (v * 100).ToString("F2", CultureInfo.InvariantCulture) : "n/a",
                    (m.Value is null ? 0 : pairs).ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(m.Definition));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{task}: {report.Compared} compared, {report.MissingResults} gold file(s) without a result{canonical}; values in %");
            if (perItemCsv)
            {
                WriteCsv(task, report);
            }

            return report.Compared == 0 ? 1 : 0;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    // Plain stdout, not Spectre: the CSV must not be wrapped or styled. Worst pair first by the task's first metric.
    private static void WriteCsv(string task, EvaluationReport report)
    {
        var names = report.Metrics.Where(m => m.Value is not null).Select(m => m.Name).ToList();
        var first = names.FirstOrDefault() ?? "";
        var errorRate = task == TaskNames.Score; // CER: higher is worse
        var rows = report.Items.OrderBy(i => i.Values.TryGetValue(first, out var v) ? (errorRate ? -v : v) : double.MaxValue).ThenBy(i => i.Key, StringComparer.Ordinal);
        Console.Out.WriteLine(string.Join(',', names.Prepend("key").Select(Csv)));
        foreach (var item in rows)
        {
            Console.Out.WriteLine(string.Join(',', names.Select(n => item.Values.TryGetValue(n, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "").Prepend(Csv(item.Key))));
        }

        static string Csv(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
    }

    private static string Prediction(string task, string? payload, string raw)
    {
        if (payload is null)
        {
            return raw;
        }

        using var doc = JsonDocument.Parse(payload);
        var p = doc.RootElement;
        string? Get(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return task switch
        {
            "table" => Get("html") ?? "",
            "molecule" => Get("smiles") ?? raw.Trim(),
            "score" => Get("kern") ?? raw,
            "report" => string.Join(' ', new[] { Get("findings"), Get("impression") }.Where(s => !string.IsNullOrEmpty(s))),
            _ => raw,
        };
    }

    private static async Task<Dictionary<string, string>> CanonicalAsync(NpgsqlConnection conn, Dictionary<string, string> smiles, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in smiles)
        {
            await using var cmd = new NpgsqlCommand("select mol_to_smiles(docpipe_parse_smiles(@s))::text", conn);
            cmd.Parameters.AddWithValue("s", value.Trim());
            // Unparseable SMILES keep their text: they then match nothing canonical, as they should.
            result[key] = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) as string ?? value.Trim();
        }

        return result;
    }
}
