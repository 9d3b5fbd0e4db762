using System.CommandLine;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Storage;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary><c>docpipe status &lt;id&gt;</c>: a document, its pages and jobs.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var id = new Argument<Guid>("id") { Description = "Document id" };
        var command = new Command("status", "Show a document's status, pages and jobs") { id };
        command.SetAction((result, ct) => RunAsync(result.GetValue(id), ct));
        return command;
    }

    private static async Task<int> RunAsync(Guid id, CancellationToken ct)
    {
        using var host = EmbeddedHost.Build(runPipeline: false);
        await host.StartAsync(ct).ConfigureAwait(false);
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        var d = await db.Documents.AsNoTracking().Include(x => x.Pages).ThenInclude(p => p.Jobs).AsSplitQuery()
            .FirstOrDefaultAsync(x => x.Id == id, ct).ConfigureAwait(false);
        if (d is null)
        {
            CliOutput.Error($"No document {id}.");
            return 1;
        }

        var grid = new Grid().AddColumns(2);
        void Row(string k, string? v)
        {
            if (CliOutput.Plain)
            {
                CliOutput.Line($"{k}\t{(v ?? "").ReplaceLineEndings(" ")}");
            }
            else
            {
                grid.AddRow(new Text(k), new Text(v ?? ""));
            }
        }

        Row("Document", d.Id.ToString());
        Row("File", d.FileName);
        Row("Type", d.MediaType);
        Row("Task", d.Task);
        Row("Source", d.Source);
        Row("Status", d.Status.ToString().ToLowerInvariant());
        Row("Error", d.Error);
        Row("Received", d.ReceivedAt.ToString("u", CultureInfo.InvariantCulture));
        Row("Metadata", d.Metadata);
        if (!CliOutput.Plain)
        {
            AnsiConsole.Write(grid);
        }

        CliOutput.Table(
            ["Page", "Size", "Text layer", "Job", "Job status"],
            d.Pages.OrderBy(p => p.Index).SelectMany(p => p.Jobs.DefaultIfEmpty().Select(j => (IReadOnlyList<string>)
            [
                p.Index.ToString(CultureInfo.InvariantCulture), $"{p.Width}×{p.Height}", p.TextLayer is null ? "no" : "yes",
                j?.Id.ToString() ?? "", j?.Status.ToString().ToLowerInvariant() ?? "",
            ])));
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }
}
