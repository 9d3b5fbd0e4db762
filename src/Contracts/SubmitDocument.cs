namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>
/// Command another system sends to queue <c>submit-document</c> to hand over a file it has put on
/// the shared volume. The file is read from <see cref="Path"/> (which must lie under the configured
/// shared intake root), copied into the blob store, and ends as a document plus
/// <see cref="DocumentReceived"/>, exactly like a dropped or uploaded file.
/// </summary>
public sealed record SubmitDocument
{
    /// <summary>Task to run: table, molecule, score, report or auto.</summary>
    public required string Task { get; init; }

    /// <summary>Path of the file relative to the shared intake root.</summary>
    public required string Path { get; init; }

    /// <summary>Original file name to keep as data.</summary>
    public string? FileName { get; init; }

    /// <summary>Optional identifier of the sender's own, echoed in logs.</summary>
    public string? ExternalId { get; init; }
}
