using System.Text.Json;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>One instruction: keyword and its arguments after line continuations are joined.</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments)
{
    /// <summary>Exec form (<c>["a", "b"]</c>) as a list.</summary>
    public IReadOnlyList<string> ExecForm()
    {
        Assert.StartsWith("[", Arguments.Trim(), StringComparison.Ordinal);
        return [.. JsonSerializer.Deserialize<string[]>(Arguments)!];
    }

    /// <summary>Words, with <c>--flag=value</c> options split off.</summary>
    public (Dictionary<string, string> Flags, IReadOnlyList<string> Words) Split()
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        var words = new List<string>();
        foreach (var w in Arguments.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (w.StartsWith("--", StringComparison.Ordinal) && words.Count == 0)
            {
                var eq = w.IndexOf('=', StringComparison.Ordinal);
                flags[w[2..eq]] = w[(eq + 1)..];
            }
            else
            {
                words.Add(w);
            }
        }

        return (flags, words);
    }
}

/// <summary>A build stage: its base (an image or an earlier stage) and instructions.</summary>
internal sealed record DockerStage(string From, string? Name, IReadOnlyList<DockerInstruction> Instructions)
{
    public IEnumerable<DockerInstruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);

    public DockerInstruction? Last(string keyword) => Instructions.LastOrDefault(i => i.Keyword == keyword);
}

/// <summary>A Dockerfile parsed as BuildKit reads it: comments dropped (also inside continued lines), continuations joined.</summary>
internal sealed partial class Dockerfile
{
    private Dockerfile(string path, IReadOnlyList<DockerStage> stages)
    {
        Path = path;
        Stages = stages;
    }

    public string Path { get; }

    public IReadOnlyList<DockerStage> Stages { get; }

    public DockerStage Final => Stages[^1];

    public DockerStage Stage(string name) => Stages.Single(s => s.Name == name);

    public static Dockerfile Parse(string path)
    {
        var stages = new List<DockerStage>();
        string? from = null, name = null;
        var instructions = new List<DockerInstruction>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var full = pending + line;
            pending = "";
            var m = InstructionPattern().Match(full);
            Assert.True(m.Success, $"{path}: cannot read '{full}'");
            var keyword = m.Groups[1].Value.ToUpperInvariant();
            var args = m.Groups[2].Value.Trim();
            if (keyword == "FROM")
            {
                if (from is not null)
                {
                    stages.Add(new DockerStage(from, name, instructions));
                }

                var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                from = parts[0];
                name = parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null;
                instructions = [];
            }
            else
            {
                Assert.True(from is not null || keyword == "ARG", $"{path}: {keyword} before FROM");
                instructions.Add(new DockerInstruction(keyword, args));
            }
        }

        Assert.NotNull(from);
        stages.Add(new DockerStage(from, name, instructions));
        return new Dockerfile(path, stages);
    }

    [GeneratedRegex(@"^([A-Za-z]+)\s+(.*)$")]
    private static partial Regex InstructionPattern();
}
