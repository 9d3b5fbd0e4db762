namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>
/// Command sent to queue <c>infer-&lt;task&gt;</c>: run the task's checkpoint over one prepared page.
/// One message per <c>jobs</c> row; consumers must be idempotent on <see cref="JobId"/>.
/// </summary>
public sealed record InferenceRequested
{
    /// <summary>The <c>jobs</c> row this message executes.</summary>
    public required Guid JobId { get; init; }

    /// <summary>Document the page belongs to.</summary>
    public required Guid DocumentId { get; init; }

    /// <summary>The <c>pages</c> row.</summary>
    public required Guid PageId { get; init; }

    /// <summary>Zero-based page (PDF) or frame (DICOM) index.</summary>
    public required int PageIndex { get; init; }

    /// <summary>Task, which is also the queue suffix.</summary>
    public required string Task { get; init; }

    /// <summary>Blob key (SHA-256) of the prepared page image.</summary>
    public required string ImageBlobKey { get; init; }

    /// <summary>Width of the prepared image in pixels.</summary>
    public required int ImageWidth { get; init; }

    /// <summary>Height of the prepared image in pixels.</summary>
    public required int ImageHeight { get; init; }

    /// <summary>Input resolution of the checkpoint the page was prepared for (224, 448 or 896).</summary>
    public required int Resolution { get; init; }
}
