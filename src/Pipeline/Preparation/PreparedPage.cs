namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>A page image in the blob store, ready for a checkpoint.</summary>
public sealed record PreparedPage(int Index, int Width, int Height, string ImageBlobKey, string? TextLayer);

/// <summary>What preparation made of a document.</summary>
public sealed record PreparedDocument(string Task, string Metadata, IReadOnlyList<PreparedPage> Pages);
