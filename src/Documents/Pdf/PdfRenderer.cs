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

    /// <summary>
    /// Renderer processes drawing page ranges of one document at once, each with its finished pages stored (PNG, blob)
    /// beside it while it draws; 0: half the CPU count, 1 to 4. Each one may use <see cref="MemoryLimitBytes"/>.
    /// </summary>
    public int ParallelRuns { get; set; }
}

/// <summary>
/// Rasterises PDF pages to binary PNM (no PNG encode/decode between renderer and us) with the long
/// side scaled to a target size, out of process.
/// </summary>
public sealed class PdfRenderer(PdfRenderOptions options)
{
    // How often a running renderer's output folder is looked at for finished pages: a page takes a few milliseconds to draw.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

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
        var pages = lastPage - firstPage + 1;
        var run = await RunAsync(Options.Renderer, pdfPath, firstPage, lastPage, longSide, outputDirectory, cancellationToken).ConfigureAwait(false);
        if (run.TimedOut)
        {
            throw new DocumentRejectedException(Reasons.PdfNotRendered, $"PDF renderer ({run.Tool}) timed out on pages {firstPage}-{lastPage}.");
        }

        if (run.ExitCode != 0 || run.Pages.Count != pages)
        {
            var detail = run.Errors.Count > 0 ? $": {run.Errors[0]}" : "";
            throw new DocumentRejectedException(Reasons.PdfNotRendered,
                $"PDF renderer ({run.Tool}) could not render pages {firstPage}-{lastPage} (exit {run.ExitCode}, {run.Pages.Count} of {pages} pages){detail}");
        }

        return new RenderOutput(run.Pages.Values.ToList(), run.Errors);
    }

    /// <summary>
    /// Runs one renderer over pages <paramref name="firstPage"/>..<paramref name="lastPage"/> and reports what it
    /// produced, page by page, however it ended: the caller decides what a failure means (another renderer, a warning).
    /// <paramref name="pageFinished"/>, when given, gets each page (number, file) as soon as its file is complete, while the
    /// renderer draws the next ones, so that storing pages overlaps drawing them; it may delete the file.
    /// </summary>
    public async Task<RenderRun> RunAsync(
        PdfRendererKind kind, string pdfPath, int firstPage, int lastPage, int longSide, string outputDirectory, CancellationToken cancellationToken,
        Func<int, string, Task>? pageFinished = null)
    {
        ArgumentNullException.ThrowIfNull(pdfPath);
        Directory.CreateDirectory(outputDirectory);
        var pages = lastPage - firstPage + 1;
        var (tool, args) = kind switch
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
        var run = ChildProcess.RunAsync(tool, args, timeout, Options.MemoryLimitBytes, cancellationToken);
        var produced = new SortedDictionary<int, string>();
        if (pageFinished is not null)
        {
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(PollInterval, CancellationToken.None)).ConfigureAwait(false);
                // Both tools write pages in order, one file at a time: a page's file is complete once a later page's exists.
                var files = Produced(outputDirectory, firstPage, lastPage);
                var newest = files.Count > 0 ? files.Keys.Max() : 0;
                foreach (var (page, file) in files.Where(f => f.Key < newest && !produced.ContainsKey(f.Key)))
                {
                    produced[page] = file;
                    await pageFinished(page, file).ConfigureAwait(false);
                }
            }
        }

        var outcome = await run.ConfigureAwait(false);
        foreach (var (page, file) in Produced(outputDirectory, firstPage, lastPage))
        {
            if (produced.TryAdd(page, file) && pageFinished is not null)
            {
                await pageFinished(page, file).ConfigureAwait(false);
            }
        }

        return new RenderRun(tool, produced, outcome.ExitCode, outcome.TimedOut, Errors(outcome.StdErr));
    }

    // Both tools put the page number last in the name (mutool p0007.pnm, pdftoppm p-07.ppm / p-007.ppm).
    private static SortedDictionary<int, string> Produced(string outputDirectory, int firstPage, int lastPage)
    {
        var produced = new SortedDictionary<int, string>();
        foreach (var file in Directory.GetFiles(outputDirectory))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var digits = name[(name.TrimEnd("0123456789".ToCharArray()).Length)..];
            if (digits.Length > 0 && int.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var page)
                && page >= firstPage && page <= lastPage && new FileInfo(file).Length > 0)
            {
                produced[page] = file;
            }
        }

        return produced;
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

/// <summary>What one renderer run produced: page number → file, how it ended and the damage it reported.</summary>
public sealed record RenderRun(string Tool, IReadOnlyDictionary<int, string> Pages, int ExitCode, bool TimedOut, IReadOnlyList<string> Errors);

/// <summary>Rendered page files (in page order) and the damage the renderer reported on the way.</summary>
public sealed record RenderOutput(IReadOnlyList<string> Files, IReadOnlyList<string> Errors);
