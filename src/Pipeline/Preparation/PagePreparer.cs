using System.Text.Json;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
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
    IOptions<ImageLimits> imageLimits)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

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
            MediaTypes.Dicom => throw new DocumentRejectedException("DICOM not yet supported."),
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
        var info = PdfInspector.Inspect(path, renderOptions);
        var renderer = new PdfRenderer(renderOptions);
        var scratch = Path.Combine(options.Value.ScratchRoot ?? Path.GetTempPath(), "docpipe-render-" + Guid.NewGuid().ToString("N"));
        var pages = new List<PreparedPage>(info.PageCount);
        try
        {
            for (var first = 1; first <= info.PageCount; first += renderOptions.PagesPerRun)
            {
                var last = Math.Min(info.PageCount, first + renderOptions.PagesPerRun - 1);
                var chunk = Path.Combine(scratch, $"{first}");
                var files = await renderer.RenderAsync(path, first, last, resolution, chunk, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < files.Count; i++)
                {
                    var index = first - 1 + i;
                    var text = info.Pages[index];
                    var textLayer = text.Words.Count == 0 ? null : JsonSerializer.Serialize(text, Json);
                    pages.Add(await StoreImageAsync(files[i], index, resolution, textLayer, cancellationToken).ConfigureAwait(false));
                    File.Delete(files[i]);
                }
            }
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }

        var metadata = JsonSerializer.Serialize(new { pageCount = info.PageCount, producer = info.Producer, title = info.Title }, Json);
        return new PreparedDocument(task, metadata, pages);
    }

    private async Task<PreparedDocument> PrepareImageAsync(string path, string task, int resolution, CancellationToken cancellationToken)
    {
        var page = await StoreImageAsync(path, 0, resolution, null, cancellationToken).ConfigureAwait(false);
        var metadata = JsonSerializer.Serialize(new { pageCount = 1 }, Json);
        return new PreparedDocument(task, metadata, [page]);
    }

    private async Task<PreparedPage> StoreImageAsync(string imagePath, int index, int resolution, string? textLayer, CancellationToken cancellationToken)
    {
        using var png = new MemoryStream();
        int width, height;
        await using (var input = File.OpenRead(imagePath))
        {
            (width, height) = PageImages.Prepare(input, resolution, imageLimits.Value, png);
        }

        png.Position = 0;
        var blob = await blobs.PutAsync(png, cancellationToken).ConfigureAwait(false);
        return new PreparedPage(index, width, height, blob.Key, textLayer);
    }
}
