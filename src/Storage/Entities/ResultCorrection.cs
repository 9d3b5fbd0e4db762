namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>
/// A reviewer's accepted version of a result, stored beside the model's output (which is never changed).
/// Several per result form its review history; the latest is the reviewed value.
/// </summary>
public sealed class ResultCorrection
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>The model's result it reviews.</summary>
    public Guid ResultId { get; set; }

    /// <summary>Task of the result (denormalised for export queries).</summary>
    public required string Task { get; set; }

    /// <summary>
    /// JSON object with the accepted fields: <c>html</c> (table), <c>smiles</c> (molecule), <c>kern</c> (score),
    /// <c>findings</c> and <c>impression</c> (report).
    /// </summary>
    public required string Payload { get; set; }

    /// <summary>Whether the reviewer changed the model's output (false: accepted as it was).</summary>
    public bool Edited { get; set; }

    /// <summary>Who accepted it, as the reviewer named themself.</summary>
    public required string ReviewedBy { get; set; }

    /// <summary>When it was accepted.</summary>
    public DateTimeOffset ReviewedAt { get; set; }
}
