using System.Text.Json;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Storage.Blobs;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>
/// Turns a stored file into page images at the checkpoint's resolution: PDFs through PdfPig (text)
/// and an out-of-process renderer (pixels), raster images as one page, DICOM frames as pages.
/// </summary>
public sealed class PagePreparer(
    IBlobStore blobs,
    IOptions<PreparationOptions> options,
    IOptions<PdfRenderOptions> pdfOptions,
    IOptions<ImageLimits> imageLimits,
    IOptions<DicomLimits> dicomLimits)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Prepares the file with blob key <paramref name="sha256"/>.</summary>
    /// <exception cref="DocumentRejectedException">The file cannot be prepared; the message is the stored reason.</exception>
    public async Task<PreparedDocument> PrepareAsync(string sha256, string mediaType, string task, int resolution, CancellationToken cancellationToken)
    {
        var path = blobs.GetPath(sha256);
        var size = new FileInfo(path).Length;
        if (size > options.Value.MaxFileBytes)
        {
            throw new DocumentRejectedException($"File is {size} bytes; the limit is {options.Value.MaxFileBytes}.");
        }

        return mediaType switch
        {
            MediaTypes.Pdf => await PreparePdfAsync(path, RequireImageTask(task, "PDF"), resolution, cancellationToken).ConfigureAwait(false),
            MediaTypes.Png or MediaTypes.Jpeg or MediaTypes.Tiff => await PrepareImageAsync(path, RequireImageTask(task, "an image"), resolution, cancellationToken).ConfigureAwait(false),
            MediaTypes.Dicom => await PrepareDicomAsync(path, task, resolution, cancellationToken).ConfigureAwait(false),
            _ => throw new DocumentRejectedException("Unsupported file type: not a PDF, PNG, JPEG, TIFF or DICOM file."),
        };
    }

    private static string RequireImageTask(string task, string what) =>
        task == TaskNames.Auto
            ? throw new DocumentRejectedException($"Task 'auto' only routes DICOM radiographs; submit {what} with an explicit task.")
            : task;

    private async Task<PreparedDocument> PreparePdfAsync(string path, string task, int resolution, CancellationToken cancellationToken)
    {
        var renderOptions = pdfOptions.Value;
        var pageCount = PdfInspector.CountPages(path, renderOptions);

        // Text extraction (PdfPig, managed) and rendering (child process) use different cores: overlap them.
        var textTask = Task.Run(() => PdfInspector.Inspect(path, renderOptions), cancellationToken);
        var renderer = new PdfRenderer(renderOptions);
        var scratch = Path.Combine(options.Value.ScratchRoot ?? Path.GetTempPath(), "docpipe-render-" + Guid.NewGuid().ToString("N"));
        var images = new (PreparedPage Page, bool Blank)[pageCount];
        var damage = new List<string>();
        try
        {
            for (var first = 1; first <= pageCount; first += renderOptions.PagesPerRun)
            {
                var last = Math.Min(pageCount, first + renderOptions.PagesPerRun - 1);
                var output = await renderer.RenderAsync(path, first, last, resolution, Path.Combine(scratch, $"{first}"), cancellationToken).ConfigureAwait(false);
                damage.AddRange(output.Errors);
                // PNG encoding is the costliest step per page; spread it over the cores.
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
                await Parallel.ForEachAsync(Enumerable.Range(0, output.Files.Count), parallel, async (i, ct) =>
                {
                    images[first - 1 + i] = await StoreImageAsync(output.Files[i], first - 1 + i, resolution, null, ct).ConfigureAwait(false);
                    File.Delete(output.Files[i]);
                }).ConfigureAwait(false);
            }
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }

        var info = await textTask.ConfigureAwait(false);
        var pages = images.Select(x => x.Page with
        {
            TextLayer = info.Pages[x.Page.Index].Words.Count == 0 ? null : JsonSerializer.Serialize(info.Pages[x.Page.Index], Json),
        }).ToList();
        var blankPages = images.Count(x => x.Blank);

        // A renderer that reports damage and then draws nothing but empty pages has recovered nothing:
        // queueing those pages would spend GPU time on blanks and hide the corruption.
        if (damage.Count > 0 && blankPages == pages.Count)
        {
            throw new DocumentRejectedException($"PDF is damaged and no page has visible content (renderer: {damage[0]}).");
        }

        var metadata = JsonSerializer.Serialize(new
        {
            pageCount,
            producer = info.Producer,
            title = info.Title,
            renderer = renderOptions.Renderer.ToString().ToLowerInvariant(),
            renderWarnings = damage.Count == 0 ? null : damage.Distinct(StringComparer.Ordinal).ToList(),
        }, Json);
        return new PreparedDocument(task, metadata, pages);
    }

    private async Task<PreparedDocument> PrepareDicomAsync(string path, string task, int resolution, CancellationToken cancellationToken)
    {
        DicomFile file;
        try
        {
            file = DicomReader.Read(path, dicomLimits.Value);
        }
        catch (DicomRejectedException ex)
        {
            throw new DocumentRejectedException(ex.Reason, ex);
        }

        if (task == TaskNames.Auto)
        {
            var route = DicomTaskRouter.RouteAuto(file.Header);
            task = route.Task ?? throw new DocumentRejectedException($"Task 'auto' found no task for this DICOM: {route.Reason}");
        }

        var pages = new List<PreparedPage>(file.FrameCount);
        for (var frame = 0; frame < file.FrameCount; frame++)
        {
            using var png = new MemoryStream();
            PreparedImage image;
            try
            {
                using var square = file.RenderLongSide(frame, resolution);
                image = PageImages.Encode(square, png);
            }
            catch (DicomRejectedException ex)
            {
                throw new DocumentRejectedException(ex.Reason, ex);
            }

            png.Position = 0;
            var blob = await blobs.PutAsync(png, cancellationToken).ConfigureAwait(false);
            pages.Add(new PreparedPage(frame, image.Width, image.Height, blob.Key, null));
        }

        var metadata = new Dictionary<string, object?>(file.Header.ToMetadata()) { ["pageCount"] = file.FrameCount };
        return new PreparedDocument(task, JsonSerializer.Serialize(metadata, Json), pages);
    }

    private async Task<PreparedDocument> PrepareImageAsync(string path, string task, int resolution, CancellationToken cancellationToken)
    {
        var (page, _) = await StoreImageAsync(path, 0, resolution, null, cancellationToken).ConfigureAwait(false);
        var metadata = JsonSerializer.Serialize(new { pageCount = 1 }, Json);
        return new PreparedDocument(task, metadata, [page]);
    }

    private async Task<(PreparedPage Page, bool Blank)> StoreImageAsync(string imagePath, int index, int resolution, string? textLayer, CancellationToken cancellationToken)
    {
        using var png = new MemoryStream();
        PreparedImage image;
        await using (var input = File.OpenRead(imagePath))
        {
            image = PageImages.Prepare(input, resolution, imageLimits.Value, png);
        }

        png.Position = 0;
        var blob = await blobs.PutAsync(png, cancellationToken).ConfigureAwait(false);
        return (new PreparedPage(index, image.Width, image.Height, blob.Key, textLayer), image.IsBlank);
    }
}
