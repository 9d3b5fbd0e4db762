using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Storage;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary><c>docpipe sql "&lt;query&gt;"</c>: runs a query against the configured store and prints a table.</summary>
internal static class SqlCommand
{
    public static Command Create()
    {
        var query = new Argument<string>("query") { Description = "SQL to run" };
        var command = new Command("sql", "Run SQL against the configured store (SQLite file in embedded mode)") { query };
        command.SetAction((result, ct) => RunAsync(result.GetValue(query)!, ct));
        return command;
    }

    private static async Task<int> RunAsync(string sql, CancellationToken ct)
    {
        using var host = EmbeddedHost.Build(runPipeline: false);
        await host.StartAsync(ct).ConfigureAwait(false);
        await using var scope = host.Services.CreateAsyncScope();
        var connection = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>().Database.GetDbConnection();
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var table = new Table();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                table.AddColumn(Markup.Escape(reader.GetName(i)));
            }

            var rows = 0;
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                table.AddRow(Enumerable.Range(0, reader.FieldCount).Select(i => Markup.Escape(Format(reader, i))).ToArray());
                rows++;
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{rows} row(s)");
            return 0;
        }
        catch (DbException ex)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{ex.Message}[/]");
            return 1;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string Format(DbDataReader reader, int i) =>
        reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture) ?? "";
}
