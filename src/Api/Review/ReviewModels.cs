using System.Text.Json;

namespace PaliGemma2.DocPipeline.Api.Review;

internal sealed record DocumentList(int Total, int Page, int PageSize, ReviewCounts Counts, IReadOnlyList<DocumentSummary> Items);

/// <summary>Counts over every document the filters select (not only the page shown).</summary>
internal sealed record ReviewCounts(
    IReadOnlyDictionary<string, int> ByStatus, IReadOnlyDictionary<string, int> ByTask, int Results, int ValidResults, int InvalidResults, int ReviewedResults);

internal sealed record DocumentSummary(
    Guid Id, string? FileName, string Task, string Status, string? Error, DateTimeOffset ReceivedAt,
    int Pages, int Results, int InvalidResults, int ReviewedResults, IReadOnlyList<string> Checkpoints);

internal sealed record DocumentReview(
    Guid Id, string? FileName, string MediaType, string Source, string Task, string Status, string? Error,
    DateTimeOffset ReceivedAt, JsonElement? Metadata, IReadOnlyList<PageReview> Pages);

/// <param name="PointWidth">Page width in PDF points when the page has a text layer (boxes in <c>pt</c> use it).</param>
internal sealed record PageReview(
    Guid Id, int Index, int Width, int Height, double? PointWidth, double? PointHeight, string ImageUrl,
    IReadOnlyList<JobReview> Jobs);

internal sealed record JobReview(
    Guid Id, string Task, string Checkpoint, string? CheckpointVersion, string Status, int Attempts,
    DateTimeOffset EnqueuedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error, ResultReview? Result);

internal sealed record ResultReview(
    Guid Id, string Checkpoint, string CheckpointVersion, string PromptPrefix, string RawText, JsonElement? Payload,
    bool Valid, JsonElement? ValidationErrors, int PromptTokens, int GeneratedTokens, double PrefillMs, double DecodeMs,
    DateTimeOffset CreatedAt, MoleculeFacts? Molecule, DeliveryView? Delivery, IReadOnlyList<CorrectionView> Corrections);

/// <summary>RDKit's reading of a molecule result (NULLs in embedded mode: no RDKit in SQLite).</summary>
internal sealed record MoleculeFacts(string? CanonicalSmiles, string? Formula, bool? IsValid);

internal sealed record DeliveryView(string Destination, string Status, int Attempts, string? LastError, string SrSopInstanceUid, DateTimeOffset? SentAt);

internal sealed record CorrectionView(Guid Id, Guid ResultId, JsonElement Payload, bool Edited, string ReviewedBy, DateTimeOffset ReviewedAt);

/// <summary>An accepted version of a result; send the fields of the result's task (unchanged ones accept the model's).</summary>
internal sealed record CorrectionRequest
{
    /// <summary>Who accepts it.</summary>
    public string? Reviewer { get; init; }

    /// <summary>Table HTML.</summary>
    public string? Html { get; init; }

    /// <summary>Molecule SMILES.</summary>
    public string? Smiles { get; init; }

    /// <summary>Score **kern.</summary>
    public string? Kern { get; init; }

    /// <summary>Report findings.</summary>
    public string? Findings { get; init; }

    /// <summary>Report impression.</summary>
    public string? Impression { get; init; }
}
