namespace PaliGemma2.DocPipeline.Tests.Shared;

/// <summary>
/// The real-world corpus beside the project (<c>../shared/corpus</c>, never copied into it). A clone
/// elsewhere finds it through <c>DOCPIPE_CORPUS</c>, an ancestor folder's <c>shared/corpus</c>, or the
/// workspace's <c>/work/shared/corpus</c>.
/// </summary>
internal static class Corpus
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root { get; } = FindCorpus();

    public static string Folder(string kind) => Path.Combine(Root, kind);

    public static string File(string kind, string name) => Path.Combine(Root, kind, name);

    private static string FindCorpus()
    {
        if (Environment.GetEnvironmentVariable("DOCPIPE_CORPUS") is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(RepoRoot).Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "corpus");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        const string workspace = "/work/shared/corpus";
        return Directory.Exists(workspace)
            ? workspace
            : throw new InvalidOperationException("The shared corpus was not found: set DOCPIPE_CORPUS to its folder (it holds pdf/ and dicom/).");
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Repository root (PaliGemma2.DocPipeline.sln) not found above the test binaries.");
    }
}
