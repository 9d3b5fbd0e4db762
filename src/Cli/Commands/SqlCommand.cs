using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Storage;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// <c>docpipe sql "&lt;query&gt;" [--format table|csv|json]</c>: runs a query against the configured store.
/// csv is RFC 4180 (header line, CRLF, fields quoted when needed, NULL as an empty field); json is an array of
/// objects keyed by column name, NULL as null.
/// </summary>
internal static class SqlCommand
{
    public static Command Create()
    {
        var query = new Argument<string>("query") { Description = "SQL to run" };
        var format = new Option<string>("--format") { Description = "table, csv or json", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var command = new Command("sql", "Run SQL against the configured store (SQLite file in embedded mode)") { query, format };
        command.SetAction((result, ct) => RunAsync(result.GetValue(query)!, result.GetValue(format)!, ct));
        return command;
    }

    private static async Task<int> RunAsync(string sql, string format, CancellationToken ct)
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
            switch (format)
            {
                case "csv":
                    await WriteCsvAsync(reader, ct).ConfigureAwait(false);
                    break;
                case "json":
                    await WriteJsonAsync(reader, ct).ConfigureAwait(false);
                    break;
                default:
                    await WriteTableAsync(reader, ct).ConfigureAwait(false);
                    break;
            }

            return 0;
        }
        catch (DbException ex)
        {
            CliOutput.Error(ex.Message);
            return 1;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task WriteTableAsync(DbDataReader reader, CancellationToken ct)
    {
        var headers = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var rows = new List<IReadOnlyList<string>>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Text(reader.GetValue(i))).ToList());
        }

        CliOutput.Table(headers, rows);
        CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"{rows.Count} row(s)"));
    }

    private static async Task WriteCsvAsync(DbDataReader reader, CancellationToken ct)
    {
        var stdout = Console.Out;
        await stdout.WriteAsync(string.Join(',', Enumerable.Range(0, reader.FieldCount).Select(i => Csv(reader.GetName(i)))) + "\r\n").ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var fields = Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "" : Csv(Text(reader.GetValue(i))));
            await stdout.WriteAsync(string.Join(',', fields) + "\r\n").ConfigureAwait(false);
        }

        await stdout.FlushAsync(ct).ConfigureAwait(false);
    }

    // RFC 4180 section 2: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
    private static string Csv(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    private static async Task WriteJsonAsync(DbDataReader reader, CancellationToken ct)
    {
        // Two columns with one name (select 1, 1) would make an object with a repeated key: number the later ones.
        var names = new List<string>();
        for (var i = 0; i < reader.FieldCount; i++)
        {
            var name = reader.GetName(i);
            var unique = name;
            for (var n = 2; names.Contains(unique, StringComparer.Ordinal); n++)
            {
                unique = string.Create(CultureInfo.InvariantCulture, $"{name}_{n}");
            }

            names.Add(unique);
        }

        var stdout = Console.OpenStandardOutput();
        await using (stdout.ConfigureAwait(false))
        {
            var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            await using (json.ConfigureAwait(false))
            {
                json.WriteStartArray();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    json.WriteStartObject();
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        json.WritePropertyName(names[i]);
                        WriteValue(json, reader.IsDBNull(i) ? null : reader.GetValue(i));
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            await stdout.WriteAsync(Encoding.UTF8.GetBytes(Environment.NewLine), ct).ConfigureAwait(false);
        }
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case long or int or short or byte or sbyte or ushort or uint or ulong or decimal:
                json.WriteRawValue(Convert.ToString(value, CultureInfo.InvariantCulture)!);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumberValue(d);
                break;
            case float f when float.IsFinite(f):
                json.WriteNumberValue(f);
                break;
            case byte[] bytes:
                json.WriteBase64StringValue(bytes);
                break;
            default:
                json.WriteStringValue(Text(value));
                break;
        }
    }

    private static string Text(object value) => value switch
    {
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
