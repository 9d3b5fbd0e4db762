using System.Diagnostics;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Contracts.Tests;

/// <summary>
/// The repository stands alone: no tracked file names a path of one particular machine, and every relative
/// Markdown link lands on a file or folder inside the repository.
/// </summary>
public sealed partial class RepositoryHygieneTests
{
    /// <summary>
    /// Top-level folders that belong to a user, a workspace or a mount of one machine. System folders a
    /// Debian machine always has (/usr, /etc, /dev, /proc, /tmp, /var, /opt, ...) are allowed: scripts and
    /// tools legitimately name them.
    /// </summary>
    private static readonly string[] MachineRoots = ["home", "root", "Users", "work", "workspace", "workspaces", "mnt", "media", "srv", "data", "scratch", "builds"];

    private static readonly string[] BinaryExtensions =
        [".onnx", ".model", ".png", ".jpg", ".jpeg", ".pdf", ".dcm", ".bin", ".gz", ".zip", ".ico", ".safetensors", ".npy", ".db"];

    [Fact]
    public void No_tracked_file_names_an_absolute_path_of_a_particular_machine()
    {
        var offences = new List<string>();
        foreach (var file in TrackedFiles())
        {
            var name = Path.GetFileName(file);

            // Ignore files anchor patterns at the repository root with "/"; a Dockerfile's paths are inside the image.
            if (name is ".gitignore" or ".dockerignore" || name.StartsWith("Dockerfile", StringComparison.Ordinal)
                || BinaryExtensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            var lines = File.ReadAllLines(Path.Combine(RepoRoot, file));
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match m in AbsolutePath().Matches(lines[i]))
                {
                    if (m.Groups["windows"].Success || MachineRoots.Contains(m.Groups["root"].Value, StringComparer.Ordinal))
                    {
                        offences.Add($"{file}:{i + 1}: {m.Value.Trim()}");
                    }
                }
            }
        }

        Assert.True(offences.Count == 0, "absolute paths of one machine:\n" + string.Join('\n', offences));
    }

    [Fact]
    public void Every_relative_markdown_link_resolves_to_a_file_inside_the_repository()
    {
        var root = Path.GetFullPath(RepoRoot);
        var offences = new List<string>();
        foreach (var file in TrackedFiles().Where(f => f.EndsWith(".md", StringComparison.OrdinalIgnoreCase)))
        {
            var folder = Path.GetDirectoryName(Path.Combine(root, file))!;
            foreach (var target in MarkdownLinks(File.ReadAllText(Path.Combine(root, file))))
            {
                if (target.StartsWith('#') || Scheme().IsMatch(target))
                {
                    if (target.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
                    {
                        offences.Add($"{file}: {target} (a file on one machine)");
                    }

                    continue;
                }

                var path = Uri.UnescapeDataString(target.Split('#', 2)[0]);
                var resolved = Path.GetFullPath(path.StartsWith('/') ? Path.Combine(root, path.TrimStart('/')) : Path.Combine(folder, path));
                if (!resolved.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && resolved != root)
                {
                    offences.Add($"{file}: {target} (outside the repository)");
                }
                else if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    offences.Add($"{file}: {target} (missing)");
                }
            }
        }

        Assert.True(offences.Count == 0, "bad Markdown links:\n" + string.Join('\n', offences));
    }

    [Fact]
    public void The_checks_catch_what_they_are_for()
    {
        // Guards against a rule that silently matches nothing. The samples are assembled so this file passes its own check.
        const char slash = '/';
        Assert.Contains(AbsolutePath().Matches($"see {slash}home{slash}alice{slash}corpus"), m => m.Groups["root"].Value == "home");
        Assert.Contains(AbsolutePath().Matches($"cd '{slash}work{slash}shared{slash}corpus'"), m => m.Groups["root"].Value == "work");
        Assert.Contains(AbsolutePath().Matches($"<c>{slash}work{slash}shared</c>"), m => m.Groups["root"].Value == "work");
        Assert.Contains(AbsolutePath().Matches("C:" + @"\Users\bob\x"), m => m.Groups["windows"].Success);
        Assert.DoesNotContain(AbsolutePath().Matches("GET /v1/documents and src/work/x and https://example.org/home/x"), m => MachineRoots.Contains(m.Groups["root"].Value));
        Assert.Equal(["../shared/DESIGN.md", "docs/a.md#x", "b.md"], MarkdownLinks("[a](../shared/DESIGN.md) [`b`](docs/a.md#x \"t\")\n```\n[c](no.md)\n```\n[d]: b.md\n`[e](code.md)`"));
    }

    private static string RepoRoot => MessageSchemas.RepoRoot;

    private static IEnumerable<string> TrackedFiles()
    {
        var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot };
        foreach (var a in (string[])["ls-files", "-z"])
        {
            psi.ArgumentList.Add(a);
        }

        using var git = Process.Start(psi) ?? throw new InvalidOperationException("could not start git");
        var stderr = git.StandardError.ReadToEndAsync();
        var output = git.StandardOutput.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git ls-files failed (these checks need a git checkout): {stderr.Result}");
        var files = output.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(f => File.Exists(Path.Combine(RepoRoot, f)))
            .ToList();
        Assert.NotEmpty(files);
        return files;
    }

    /// <summary>Link targets of a Markdown text, outside fenced and inline code.</summary>
    private static List<string> MarkdownLinks(string markdown)
    {
        var prose = InlineCode().Replace(FencedCode().Replace(markdown, ""), m => m.Value.Contains("](", StringComparison.Ordinal) ? "" : m.Value);
        var targets = new List<string>();
        foreach (Match m in InlineLink().Matches(prose))
        {
            targets.Add(m.Groups[1].Value);
        }

        foreach (Match m in ReferenceLink().Matches(prose))
        {
            targets.Add(m.Groups[1].Value);
        }

        return targets;
    }

    // An absolute path starts a token (line start, space, quote, bracket, '=', ':' or ',') with '/'
    // and a folder name; a URL's path does not, because '//' or a host precedes it.
    [GeneratedRegex(@"(?:^|[\s""'`(\[=:,>|])(?:/(?<root>[A-Za-z][A-Za-z0-9._-]*)/|(?<windows>[A-Za-z]:\\(?:Users|home)\\))")]
    private static partial Regex AbsolutePath();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex Scheme();

    [GeneratedRegex(@"^\s*(```|~~~).*?^\s*\1", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"`[^`\n]+`")]
    private static partial Regex InlineCode();

    // [text](target "title") and ![alt](target); the text may hold inline code (`x`), so it is matched loosely.
    [GeneratedRegex(@"\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", RegexOptions.Multiline)]
    private static partial Regex ReferenceLink();
}
