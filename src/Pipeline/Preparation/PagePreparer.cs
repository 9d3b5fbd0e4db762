using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Documents.Processes;
using PaliGemma2.DocPipeline.Documents.Sandbox;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage.Blobs;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>
/// Turns a stored file into page images at the checkpoint's resolution: PDFs through PdfPig (text)
/// and out-of-process renderers (pixels), raster images as one page, DICOM frames as pages. Every
/// parser of the file's bytes runs in a child process (<see cref="DecodeSandbox"/>, mutool, pdftoppm).
/// </summary>
public sealed class PagePreparer(
    IBlobStore blobs,
    IOptions<PreparationOptions> options,
    IOptions<IntakeOptions> intake,
    IOptions<PdfRenderOptions> pdfOptions,
    IOptions<ImageLimits> imageLimits,
    IOptions<DicomLimits> dicomLimits,
    DecodeSandbox sandbox)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Prepares the file with blob key <paramref name="sha256"/>.</summary>
    /// <exception cref="DocumentRejectedException">The file cannot be prepared; the message is the stored reason.</exception>
    public async Task<PreparedDocument> PrepareAsync(string sha256, string mediaType, string task, int resolution, CancellationToken cancellationToken, Guid documentId = default)
    {
        var path = blobs.GetPath(sha256);
        var size = new FileInfo(path).Length;
        if (size > intake.Value.MaxFileBytes)
        {
            throw new DocumentRejectedException(Reasons.TooLarge, $"File is {size} bytes; the limit is {intake.Value.MaxFileBytes}.");
        }

        var scratch = Path.Combine(options.Value.ScratchRoot ?? Path.GetTempPath(), "docpipe-prepare-" + Guid.NewGuid().ToString("N"));
        try
        {
            return mediaType switch
            {
                _ when size == 0 => throw new DocumentRejectedException(Reasons.Truncated, "The file is empty (0 bytes)."),
                MediaTypes.Pdf => await PreparePdfAsync(path, RequireImageTask(task, "PDF"), resolution, scratch, documentId, cancellationToken).ConfigureAwait(false),
                MediaTypes.Png or MediaTypes.Jpeg or MediaTypes.Tiff => await PrepareImageAsync(path, RequireImageTask(task, "an image"), resolution, scratch, documentId, cancellationToken).ConfigureAwait(false),
                MediaTypes.Dicom => await PrepareDicomAsync(path, task, resolution, scratch, documentId, cancellationToken).ConfigureAwait(false),
                _ => throw new DocumentRejectedException(Reasons.UnsupportedType, "Unsupported file type: not a PDF, PNG, JPEG, TIFF or DICOM file."),
            };
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static string RequireImageTask(string task, string what) =>
        task == TaskNames.Auto
            ? throw new DocumentRejectedException(Reasons.WrongTask, $"Task 'auto' only routes DICOM radiographs; submit {what} with an explicit task.")
            : task;

    private async Task<PreparedDocument> PreparePdfAsync(string path, string task, int resolution, string scratch, Guid documentId, CancellationToken cancellationToken)
    {
        var renderOptions = pdfOptions.Value;
        var warnings = new List<Warning>();

        // PdfPig (text layer) runs in the sandbox while the renderers draw: different cores, and its failure is only a warning.
        var textTask = sandbox.ReadPdfTextAsync(path, renderOptions.MaxPages, Path.Combine(scratch, "text"), documentId, cancellationToken);
        try
        {
            return await RenderPdfAsync(path, task, resolution, scratch, textTask, warnings, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The decoder writes into scratch, which the caller deletes once this returns: a document that fails while
            // the text is still being read waits for it, so the pooled decoder is not made to fail on a vanished folder.
            await Task.WhenAny(textTask).ConfigureAwait(false);
            _ = textTask.Exception;
        }
    }

    private async Task<PreparedDocument> RenderPdfAsync(
        string path, string task, int resolution, string scratch, Task<PdfInfo> textTask, List<Warning> warnings, CancellationToken cancellationToken)
    {
        var renderOptions = pdfOptions.Value;
        var pageCount = await CountPagesAsync(path, textTask, renderOptions, cancellationToken).ConfigureAwait(false);

        var renderer = new PdfRenderer(renderOptions);
        var images = new (PreparedPage Page, bool Blank)?[pageCount];

        // Ranges small enough that rendering one overlaps encoding another on every core, several renderer
        // processes at once: the renderer itself draws on one core.
        var runs = renderOptions.ParallelRuns > 0 ? renderOptions.ParallelRuns : Math.Min(Environment.ProcessorCount, 4);
        var size = Math.Clamp((pageCount + (2 * runs) - 1) / (2 * runs), 1, Math.Max(1, renderOptions.PagesPerRun));
        var ranges = Enumerable.Range(0, (pageCount + size - 1) / size).Select(i => (First: 1 + (i * size), Last: Math.Min(pageCount, (i + 1) * size))).ToList();
        var reports = new (List<Warning> Warnings, List<string> Damage)[ranges.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = runs, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, ranges.Count), parallel, async (i, ct) =>
            reports[i] = await RenderRangeAsync(renderer, path, ranges[i].First, ranges[i].Last, resolution, scratch, images, ct).ConfigureAwait(false)).ConfigureAwait(false);
        var damage = reports.SelectMany(r => r.Damage).ToList();
        warnings.AddRange(reports.SelectMany(r => r.Warnings));

        var drawn = images.Where(x => x is not null).Select(x => x!.Value).ToList();
        if (drawn.Count == 0)
        {
            throw new DocumentRejectedException(Reasons.PdfNotRendered, "Neither mutool nor pdftoppm could draw any page of this PDF.");
        }

        var missing = Enumerable.Range(1, pageCount).Where(p => images[p - 1] is null).ToList();
        if (missing.Count > 0)
        {
            warnings.Add(new Warning(Reasons.PdfNotRendered, $"No renderer could draw page(s) {string.Join(", ", missing.Take(20))}; the other pages go on."));
        }

        // A renderer that reports damage and then draws nothing but empty pages has recovered nothing:
        // queueing those pages would spend GPU time on blanks and hide the corruption.
        if (damage.Count > 0 && drawn.All(x => x.Blank))
        {
            throw new DocumentRejectedException(Reasons.PdfDamagedBlank, "The PDF is damaged: the renderers reported errors and drew no visible content on any page.");
        }

        PdfInfo? info = null;
        try
        {
            info = await textTask.ConfigureAwait(false);
        }
        catch (DocumentRejectedException ex)
        {
            warnings.Add(new Warning(Reasons.TextLayerUnreadable, $"The text layer cannot be read ({ex.Message}); pages have no words."));
        }

        var pages = drawn.Select(x => x.Page with
        {
            TextLayer = info is null || x.Page.Index >= info.Pages.Count || info.Pages[x.Page.Index].Words.Count == 0
                ? null
                : JsonSerializer.Serialize(info.Pages[x.Page.Index], Json),
        }).ToList();

        var metadata = JsonSerializer.Serialize(new
        {
            pageCount,
            producer = info?.Producer,
            title = info?.Title,
            renderer = renderOptions.Renderer.ToString().ToLowerInvariant(),
            renderWarnings = damage.Count == 0 ? null : damage.Distinct(StringComparer.Ordinal).ToList(),
            warnings = warnings.Count == 0 ? null : warnings,
        }, Json);
        return new PreparedDocument(task, metadata, pages);
    }

    // One renderer run over pages first..last, its pages stored as PNG; a page it could not draw, or drew empty,
    // gets a second opinion from the other renderer.
    private async Task<(List<Warning> Warnings, List<string> Damage)> RenderRangeAsync(
        PdfRenderer renderer, string path, int first, int last, int resolution, string scratch, (PreparedPage Page, bool Blank)?[] images, CancellationToken cancellationToken)
    {
        var primary = renderer.Options.Renderer;
        var fallback = primary == PdfRendererKind.Mutool ? PdfRendererKind.Pdftoppm : PdfRendererKind.Mutool;
        var warnings = new List<Warning>();
        var run = await renderer.RunAsync(primary, path, first, last, resolution, Path.Combine(scratch, $"{first}"), cancellationToken).ConfigureAwait(false);
        var damage = new List<string>(run.Errors);
        if (run.ExitCode != 0 && run.Pages.Count > 0)
        {
            warnings.Add(new Warning(Reasons.RendererWarning, $"{run.Tool} exited with status {run.ExitCode} on pages {first}-{last} after drawing {run.Pages.Count} of them; those pages are kept."));
        }

        foreach (var (page, file) in run.Pages)
        {
            images[page - 1] = await StoreRenderedAsync(file, page - 1, resolution, cancellationToken).ConfigureAwait(false);
            File.Delete(file);
        }

        for (var page = first; page <= last; page++)
        {
            if (images[page - 1] is { Blank: false })
            {
                continue;
            }

            var second = await renderer.RunAsync(fallback, path, page, page, resolution, Path.Combine(scratch, $"{fallback}-{page}"), cancellationToken).ConfigureAwait(false);
            if (!second.Pages.TryGetValue(page, out var file))
            {
                continue;
            }

            var candidate = await StoreRenderedAsync(file, page - 1, resolution, cancellationToken).ConfigureAwait(false);
            if (images[page - 1] is null || !candidate.Blank)
            {
                images[page - 1] = candidate;
                damage.AddRange(second.Errors);
            }
        }

        return (warnings, damage);
    }

    // The primary renderer's own view of the page tree (mutool walks it as it draws: a looping tree is one page,
    // as PdfPig sees it); poppler's pdfinfo when MuPDF cannot load it; PdfPig's count when neither opens the file.
    private static async Task<int> CountPagesAsync(string path, Task<PdfInfo> pdfPig, PdfRenderOptions limits, CancellationToken cancellationToken)
    {
        var processLimits = new ChildProcess.Limits(TimeSpan.FromSeconds(30), limits.MemoryLimitBytes, 30);
        var count = 0;
        var mutool = await ChildProcess.RunAsync("mutool", ["show", path, "pages"], processLimits, cancellationToken, captureStdout: true).ConfigureAwait(false);
        // mutool exits non-zero on a looping page tree after listing the pages it can reach: those are its pages.
        count = mutool.StdOut.Split('\n').Count(l => l.StartsWith("page ", StringComparison.Ordinal));

        if (count == 0)
        {
            var pdfinfo = await ChildProcess.RunAsync("pdfinfo", [path], processLimits, cancellationToken, captureStdout: true).ConfigureAwait(false);
            var line = pdfinfo.ExitCode == 0 ? pdfinfo.StdOut.Split('\n').FirstOrDefault(l => l.StartsWith("Pages:", StringComparison.Ordinal)) : null;
            if (line is not null && int.TryParse(line["Pages:".Length..].Trim(), CultureInfo.InvariantCulture, out var n))
            {
                count = n;
            }
        }

        if (count == 0)
        {
            try
            {
                count = (await pdfPig.ConfigureAwait(false)).PageCount;
            }
            catch (DocumentRejectedException ex) when (ex.Code != Reasons.TooLarge)
            {
                throw new DocumentRejectedException(Reasons.PdfUnreadable, "Neither MuPDF, poppler nor PdfPig can read this PDF's page tree.", ex);
            }
        }

        return count < 1 ? throw new DocumentRejectedException(Reasons.PdfNoPages, "PDF has no pages.")
            : count > limits.MaxPages ? throw new DocumentRejectedException(Reasons.TooLarge, $"PDF has {count} pages; the limit is {limits.MaxPages}.")
            : count;
    }

    private async Task<PreparedDocument> PrepareDicomAsync(string path, string task, int resolution, string scratch, Guid documentId, CancellationToken cancellationToken)
    {
        var file = await sandbox.DecodeDicomAsync(path, resolution, dicomLimits.Value, scratch, documentId, cancellationToken).ConfigureAwait(false);
        if (task == TaskNames.Auto)
        {
            var route = DicomTaskRouter.RouteAuto(file.Header);
            task = route.Task ?? throw new DocumentRejectedException(Reasons.DicomNoTask, $"Task 'auto' found no task for this DICOM: {route.Reason}");
        }

        var pages = new List<PreparedPage>(file.Frames.Count);
        for (var frame = 0; frame < file.Frames.Count; frame++)
        {
            var image = file.Frames[frame];
            var blob = await PutFileAsync(Path.Combine(scratch, image.File), cancellationToken).ConfigureAwait(false);
            pages.Add(new PreparedPage(frame, image.Width, image.Height, blob.Key, null));
        }

        var metadata = new Dictionary<string, object?>(file.Header.ToMetadata()) { ["pageCount"] = file.Frames.Count };
        return new PreparedDocument(task, JsonSerializer.Serialize(metadata, Json), pages);
    }

    private async Task<PreparedDocument> PrepareImageAsync(string path, string task, int resolution, string scratch, Guid documentId, CancellationToken cancellationToken)
    {
        var image = await sandbox.PrepareImageAsync(path, resolution, imageLimits.Value, scratch, documentId, cancellationToken).ConfigureAwait(false);
        var blob = await PutFileAsync(Path.Combine(scratch, image.File), cancellationToken).ConfigureAwait(false);
        var metadata = JsonSerializer.Serialize(new { pageCount = 1 }, Json);
        return new PreparedDocument(task, metadata, [new PreparedPage(0, image.Width, image.Height, blob.Key, null)]);
    }

    private async Task<BlobInfo> PutFileAsync(string file, CancellationToken cancellationToken)
    {
        var stream = File.OpenRead(file);
        await using (stream.ConfigureAwait(false))
        {
            return await blobs.PutAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    // Renderer output (PNM that mutool/pdftoppm just wrote at the target size), not the user's bytes: handled here,
    // in process. The direct PPM → PNG path is the common case; anything else (other PNM kinds, a page over the
    // target size) goes through ImageSharp.
    private async Task<(PreparedPage Page, bool Blank)> StoreRenderedAsync(string imagePath, int index, int resolution, CancellationToken cancellationToken)
    {
        var ppm = await File.ReadAllBytesAsync(imagePath, cancellationToken).ConfigureAwait(false);
        using var png = new MemoryStream();
        var image = RenderedPages.TryWritePng(ppm, resolution, png);
        if (image is null)
        {
            png.SetLength(0);
            using var input = new MemoryStream(ppm, writable: false);
            image = PageImages.Prepare(input, resolution, imageLimits.Value, png);
        }

        png.Position = 0;
        var blob = await blobs.PutAsync(png, cancellationToken).ConfigureAwait(false);
        return (new PreparedPage(index, image.Width, image.Height, blob.Key, null), image.IsBlank);
    }

    private sealed record Warning(string Code, string Message);
}
