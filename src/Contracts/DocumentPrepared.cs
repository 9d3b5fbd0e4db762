namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>Event: every page of a document has a <c>jobs</c> row and an <see cref="InferenceRequested"/>.</summary>
public sealed record DocumentPrepared
{
    /// <summary>The document.</summary>
    public required Guid DocumentId { get; init; }

    /// <summary>Task its pages were queued for.</summary>
    public required string Task { get; init; }

    /// <summary>Number of pages (PDF pages, image = 1, DICOM frames).</summary>
    public required int PageCount { get; init; }
}
