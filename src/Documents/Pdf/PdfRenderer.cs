using PaliGemma2.DocPipeline.Documents.Processes;

namespace PaliGemma2.DocPipeline.Documents.Pdf;

/// <summary>Which external program rasterises PDF pages.</summary>
public enum PdfRendererKind
{
    /// <summary>MuPDF <c>mutool draw</c>.</summary>
    Mutool,
    /// <summary>Poppler <c>pdftoppm</c>.</summary>
    Pdftoppm,
}

/// <summary>Limits applied to every renderer run.</summary>
public sealed class PdfRenderOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Preparation:Pdf";

    /// <summary>Renderer; mutool by default (see docs/benchmarks.md).</summary>
    public PdfRendererKind Renderer { get; set; } = PdfRendererKind.Mutool;

    /// <summary>Wall-clock limit per page (the run gets this times the page count, plus a base).</summary>
    public TimeSpan TimeoutPerPage { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Address-space limit of the renderer process.</summary>
    public long MemoryLimitBytes { get; set; } = 2L << 30;

    /// <summary>Largest PDF accepted.</summary>
    public long MaxFileBytes { get; set; } = 200L << 20;

    /// <summary>Most pages accepted.</summary>
    public int MaxPages { get; set; } = 2000;

    /// <summary>Pages rendered per child process, so one huge document does not need one huge timeout.</summary>
    public int PagesPerRun { get; set; } = 50;
}

/// <summary>
/// Rasterises PDF pages to binary PNM (no PNG encode/decode between renderer and us) with the long
/// side scaled to a target size, out of process.
/// </summary>
public sealed class PdfRenderer(PdfRenderOptions options)
{
    /// <summary>The options in force.</summary>
    public PdfRenderOptions Options { get; } = options;

    /// <summary>
    /// Renders pages <paramref name="firstPage"/>..<paramref name="lastPage"/> (1-based, inclusive)
    /// into <paramref name="outputDirectory"/>; returns the files in page order and the errors the
    /// renderer reported while still producing pages (damage it repaired or skipped).
    /// </summary>
    /// <exception cref="DocumentRejectedException">The renderer failed, timed out or produced the wrong page count.</exception>
    public async Task<RenderOutput> RenderAsync(
        string pdfPath, int firstPage, int lastPage, int longSide, string outputDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pdfPath);
        Directory.CreateDirectory(outputDirectory);
        var pages = lastPage - firstPage + 1;
        var (tool, args) = Options.Renderer switch
        {
            PdfRendererKind.Mutool => ("mutool", new[]
            {
                "draw", "-q", "-F", "pnm", "-c", "rgb", "-w", $"{longSide}", "-h", $"{longSide}",
                "-o", Path.Combine(outputDirectory, "p%04d.pnm"), pdfPath, $"{firstPage}-{lastPage}",
            }),
            _ => ("pdftoppm", new[]
            {
                "-q", "-f", $"{firstPage}", "-l", $"{lastPage}", "-scale-to", $"{longSide}",
                pdfPath, Path.Combine(outputDirectory, "p"),
            }),
        };

        var timeout = TimeSpan.FromSeconds(5) + (Options.TimeoutPerPage * pages);
        var outcome = await ChildProcess.RunAsync(tool, args, timeout, Options.MemoryLimitBytes, cancellationToken).ConfigureAwait(false);
        if (outcome.TimedOut)
        {
            throw new DocumentRejectedException($"PDF renderer ({tool}) timed out after {timeout.TotalSeconds:0} s on pages {firstPage}-{lastPage}.");
        }

        var files = Directory.GetFiles(outputDirectory).Order(StringComparer.Ordinal).ToArray();
        var errors = Errors(outcome.StdErr);
        if (outcome.ExitCode != 0 || files.Length != pages)
        {
            var detail = errors.Count > 0 ? $": {errors[0]}" : "";
            throw new DocumentRejectedException(
                $"PDF renderer ({tool}) could not render pages {firstPage}-{lastPage} (exit {outcome.ExitCode}, {files.Length} of {pages} pages){detail}");
        }

        return new RenderOutput(files, errors);
    }

    // mutool prefixes damage with "error:", poppler with "Syntax Error"; warnings (missing ICC, odd CMaps) are noise.
    private static List<string> Errors(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("error:", StringComparison.OrdinalIgnoreCase) || l.StartsWith("Syntax Error", StringComparison.Ordinal))
            .Select(l => l.Length <= 200 ? l : l[..200])
            .Distinct(StringComparer.Ordinal)
            .Take(10)
            .ToList();
}

/// <summary>Rendered page files (in page order) and the damage the renderer reported on the way.</summary>
public sealed record RenderOutput(IReadOnlyList<string> Files, IReadOnlyList<string> Errors);
