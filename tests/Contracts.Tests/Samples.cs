namespace PaliGemma2.DocPipeline.Contracts.Tests;

/// <summary>One realistic instance of every message, as the pipeline builds them.</summary>
internal static class Samples
{
    public const string Sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    public const string ImageSha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static readonly Guid DocumentId = Guid.CreateVersion7();

    private static readonly Guid JobId = Guid.CreateVersion7();

    public static object For(Type messageType)
    {
        ArgumentNullException.ThrowIfNull(messageType);
        return messageType.Name switch
        {
            nameof(DocumentReceived) => new DocumentReceived
            {
                DocumentId = DocumentId,
                Sha256 = Sha,
                Task = TaskNames.Table,
                MediaType = "application/pdf",
                Source = "folder",
                FileName = "annual report 2025.pdf",
                ReceivedAt = new DateTimeOffset(2026, 11, 27, 22, 1, 46, 123, TimeSpan.Zero).AddTicks(4567),
            },
            nameof(SubmitDocument) => new SubmitDocument
            {
                Task = TaskNames.Molecule,
                Path = "lab-7/2026-11-27/scan-0001.png",
                FileName = "scan-0001.png",
                ExternalId = "LIMS-48213",
            },
            nameof(InferenceRequested) => new InferenceRequested
            {
                JobId = JobId,
                DocumentId = DocumentId,
                PageId = Guid.CreateVersion7(),
                PageIndex = 0,
                Task = TaskNames.Table,
                ImageBlobKey = ImageSha,
                ImageWidth = 896,
                ImageHeight = 1267,
                Resolution = 896,
            },
            nameof(DocumentPrepared) => new DocumentPrepared { DocumentId = DocumentId, Task = TaskNames.Score, PageCount = 12 },
            nameof(DocumentFailed) => new DocumentFailed { DocumentId = DocumentId, Reason = "Not a PDF: the file ends before the cross-reference table." },
            nameof(ResultStored) => new ResultStored
            {
                ResultId = Guid.CreateVersion7(),
                JobId = JobId,
                DocumentId = DocumentId,
                Task = TaskNames.Report,
                Checkpoint = "paligemma2-3b-pt-448-mimic-cxr",
                CheckpointVersion = "1.0.0",
                Valid = true,
            },
            _ => throw new InvalidOperationException($"No sample for {messageType.Name}: add one here and a schema under schemas/messages."),
        };
    }

    /// <summary>Message types as xUnit theory data.</summary>
    public static TheoryData<string> MessageTypeNames()
    {
        var data = new TheoryData<string>();
        foreach (var t in MessageSchemas.MessageTypes)
        {
            data.Add(t.Name);
        }

        return data;
    }

    public static Type TypeNamed(string name) =>
        MessageSchemas.MessageTypes.Single(t => t.Name == name);
}
