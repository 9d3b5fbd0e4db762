using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// Where the CLI writes. Results go to stdout, warnings and errors to stderr. When stdout is not a terminal
/// (a pipe, a file, a CI log) output is plain: no progress bars, no colour, and tables as tab-separated lines,
/// because Spectre renders for an 80-column screen there and would break ids and commands across lines.
/// </summary>
internal static class CliOutput
{
    /// <summary>True when stdout is redirected: write plain lines.</summary>
    public static bool Plain { get; } = Console.IsOutputRedirected;

    private static readonly IAnsiConsole Stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>A line of results; <paramref name="style"/> (Spectre style, e.g. <c>bold</c>) only on a terminal.</summary>
    public static void Line(string text, string? style = null)
    {
        if (Plain)
        {
            Console.Out.WriteLine(text);
        }
        else
        {
            AnsiConsole.Write(new Text(text + Environment.NewLine, style is null ? Style.Plain : Style.Parse(style)));
        }
    }

    /// <summary>A warning (for example "these are demo results") on stderr.</summary>
    public static void Warning(string text) => ToStderr(text, "yellow");

    /// <summary>An error on stderr.</summary>
    public static void Error(string text) => ToStderr(text, "red");

    private static void ToStderr(string text, string style)
    {
        if (Console.IsErrorRedirected)
        {
            Console.Error.WriteLine(text);
        }
        else
        {
            Stderr.Write(new Text(text + Environment.NewLine, Style.Parse(style)));
        }
    }

    /// <summary>A table: Spectre's on a terminal, else a header line and one tab-separated line per row.</summary>
    public static void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, Func<int, string, string?>? styleOf = null)
    {
        if (Plain)
        {
            Console.Out.WriteLine(string.Join('\t', headers.Select(Cell)));
            foreach (var row in rows)
            {
                Console.Out.WriteLine(string.Join('\t', row.Select(Cell)));
            }

            return;
        }

        var table = new Table();
        foreach (var h in headers)
        {
            table.AddColumn(new TableColumn(new Text(h)));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select((v, i) => (Spectre.Console.Rendering.IRenderable)new Text(v, styleOf?.Invoke(i, v) is { } s ? Style.Parse(s) : Style.Plain)).ToArray());
        }

        AnsiConsole.Write(table);
    }

    // One row per line: a tab or line break inside a value would split it.
    private static string Cell(string value) => value.ReplaceLineEndings(" ").Replace('\t', ' ');
}
