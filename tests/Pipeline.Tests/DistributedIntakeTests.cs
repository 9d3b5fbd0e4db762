using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;
using SixLabors.ImageSharp;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>Intake and preparation on real RabbitMQ and PostgreSQL.</summary>
public sealed class DistributedIntakeTests : IAsyncLifetime
{
    private static readonly string[] GoodPdfs =
        ["ltxtable.pdf", "upref.pdf", "tabularx.pdf", "ltnews18.pdf", "hhline.pdf", "delarray.pdf"];

    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("intake");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Dropped_pdfs_get_one_page_row_and_one_infer_table_message_per_page()
    {
        foreach (var name in GoodPdfs)
        {
            _host.Drop(TestServices.CorpusFile("pdf", name), TaskNames.Table);
        }

        List<Document> docs = [];
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Include(d => d.Pages).ThenInclude(p => p.Jobs).ToListAsync());
            return docs.Count == GoodPdfs.Length && docs.All(d => d.Status == DocumentStatus.Queued);
        }, TimeSpan.FromSeconds(90)), "documents: " + string.Join(", ", docs.Select(d => $"{d.FileName}={d.Status} {d.Error}")));

        // The drop folder is emptied: files moved into the blob store.
        Assert.Empty(Directory.GetFiles(Path.Combine(_host.Inbox, TaskNames.Table)));

        var messages = await BrokerQueue.DrainAsync(_host.RabbitUri!, "infer-table");
        var blobs = _host.Services.GetRequiredService<IBlobStore>();
        foreach (var name in GoodPdfs)
        {
            var doc = Assert.Single(docs, d => d.FileName == name);
            Assert.Equal(Sources.Folder, doc.Source);
            Assert.Equal("application/pdf", doc.MediaType);
            var expectedPages = PdfReference.PageCount(TestServices.CorpusFile("pdf", name));
            Assert.Equal(expectedPages, doc.Pages.Count);
            Assert.Equal(Enumerable.Range(0, expectedPages), doc.Pages.Select(p => p.Index).Order());
            using (var meta = JsonDocument.Parse(doc.Metadata!))
            {
                Assert.Equal(expectedPages, meta.RootElement.GetProperty("pageCount").GetInt32());
            }

            var docMessages = messages.Where(m => m.GetProperty("documentId").GetGuid() == doc.Id).ToList();
            Assert.Equal(expectedPages, docMessages.Count);
            foreach (var m in docMessages)
            {
                var page = Assert.Single(doc.Pages, p => p.Id == m.GetProperty("pageId").GetGuid());
                var job = Assert.Single(page.Jobs);
                Assert.Equal(job.Id, m.GetProperty("jobId").GetGuid());
                Assert.Equal(JobStatus.Queued, job.Status);
                Assert.Equal(page.Index, m.GetProperty("pageIndex").GetInt32());
                Assert.Equal(TaskNames.Table, m.GetProperty("task").GetString());
                Assert.Equal(896, m.GetProperty("resolution").GetInt32());
                Assert.Equal(page.ImageBlobKey, m.GetProperty("imageBlobKey").GetString());
                Assert.Equal(page.Width, m.GetProperty("imageWidth").GetInt32());
                Assert.Equal(page.Height, m.GetProperty("imageHeight").GetInt32());
                Assert.Equal(896, Math.Max(page.Width, page.Height));

                // The blob really is the page image at that size.
                await using var stream = blobs.OpenRead(page.ImageBlobKey);
                var info = await Image.IdentifyAsync(stream);
                Assert.Equal((page.Width, page.Height), (info.Width, info.Height));
            }
        }

        Assert.Equal(docs.Sum(d => d.Pages.Count), messages.Count);

        // Born-digital text is kept per page with boxes inside the page.
        var basic = docs.Single(d => d.FileName == "ltxtable.pdf");
        var first = basic.Pages.Single(p => p.Index == 0);
        using var layer = JsonDocument.Parse(first.TextLayer!);
        var words = layer.RootElement.GetProperty("words").EnumerateArray().ToList();
        Assert.NotEmpty(words);
        var pageWidth = layer.RootElement.GetProperty("width").GetDouble();
        Assert.All(words, w => Assert.InRange(w.GetProperty("x1").GetDouble(), w.GetProperty("x0").GetDouble(), pageWidth + 1));
    }

    [Fact]
    public async Task Same_file_dropped_twice_and_uploaded_concurrently_yields_one_document()
    {
        var source = TestServices.CorpusFile("pdf", "ltxtable.pdf");
        _host.Drop(source, TaskNames.Table, "first.pdf");
        Assert.True(await TestServices.EventuallyAsync(
            () => Task.FromResult(!File.Exists(Path.Combine(_host.Inbox, TaskNames.Table, "first.pdf"))), TimeSpan.FromSeconds(30)));
        _host.Drop(source, TaskNames.Table, "second-name.pdf");
        Assert.True(await TestServices.EventuallyAsync(
            () => Task.FromResult(!File.Exists(Path.Combine(_host.Inbox, TaskNames.Table, "second-name.pdf"))), TimeSpan.FromSeconds(30)));

        var bytes = await File.ReadAllBytesAsync(source);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            await using var scope = _host.Services.CreateAsyncScope();
            var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
            return await intake.IngestAsync(new MemoryStream(bytes), $"upload-{i}.pdf", TaskNames.Table, Sources.Api, CancellationToken.None);
        }));

        var docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Where(d => d.Task == TaskNames.Table).ToListAsync());
        var doc = Assert.Single(docs);
        Assert.Equal("first.pdf", doc.FileName);
        Assert.All(results, r => Assert.Equal(doc.Id, r.DocumentId));
        Assert.All(results, r => Assert.False(r.Created));

        // The same bytes for another task are another document.
        await using var scope2 = _host.Services.CreateAsyncScope();
        var other = await scope2.ServiceProvider.GetRequiredService<DocumentIntake>()
            .IngestAsync(new MemoryStream(bytes), "x.pdf", TaskNames.Molecule, Sources.Api, CancellationToken.None);
        Assert.True(other.Created);
        Assert.NotEqual(doc.Id, other.DocumentId);
    }

    [Fact]
    public async Task Corrupt_and_fuzzed_pdfs_fail_with_a_reason_while_the_rest_are_queued()
    {
        // Damaged beyond use: no page tree, or the renderer reports damage and draws only empty pages.
        var damaged = DamagedPdfs.Unusable;
        var files = Directory.GetFiles(TestServices.Corpus("pdf"), "*.pdf").Order(StringComparer.Ordinal).ToList();
        var ids = new Dictionary<Guid, string>();
        foreach (var f in files)
        {
            ids[(await _host.IngestAsync(f, TaskNames.Score)).DocumentId] = Path.GetFileName(f);
        }

        // Not a PDF at all, and an empty file, go through the same path.
        var text = Path.Combine(_host.Root, "notes.txt");
        await File.WriteAllTextAsync(text, "just some text, not a document");
        ids[(await _host.IngestAsync(text, TaskNames.Score)).DocumentId] = "notes.txt";

        var docs = await _host.WaitPreparedAsync(ids.Keys, TimeSpan.FromSeconds(120));
        Assert.Equal(ids.Count, docs.Count);
        foreach (var d in docs)
        {
            var name = ids[d.Id];
            if (damaged.Contains(name) || name is "notes.txt")
            {
                Assert.True(d.Status == DocumentStatus.Failed, $"{name} should fail but is {d.Status}");
                Assert.False(string.IsNullOrWhiteSpace(d.Error), $"{name} failed without a reason");
                Assert.Empty(d.Pages);
            }
            else
            {
                Assert.True(d.Status == DocumentStatus.Queued, $"{name} should be queued but is {d.Status}: {d.Error}");
                // Poppler cannot read the file with the broken xref at all: count the intact original's pages.
                var reference = name == DamagedPdfs.BrokenXref ? DamagedPdfs.Source : name;
                Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", reference)), d.Pages.Count);
            }
        }

        Assert.Contains("Unsupported file type", docs.Single(d => ids[d.Id] == "notes.txt").Error, StringComparison.Ordinal);

        // Repaired damage is kept with the document, not hidden.
        using var repaired = JsonDocument.Parse(docs.Single(d => ids[d.Id] == DamagedPdfs.BrokenXref).Metadata!);
        Assert.StartsWith("error:", repaired.RootElement.GetProperty("renderWarnings")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitDocument_on_the_queue_is_ingested_like_any_other_file()
    {
        var shared = Path.Combine(_host.SharedRoot, "batch-7");
        Directory.CreateDirectory(shared);
        File.Copy(TestServices.CorpusFile("pdf", "ltnews18.pdf"), Path.Combine(shared, "a.pdf"));
        var bus = _host.Services.GetRequiredService<MassTransit.IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri("queue:submit-document"));
        await endpoint.Send(new SubmitDocument { Task = TaskNames.Molecule, Path = "batch-7/a.pdf", FileName = "a.pdf", ExternalId = "ext-1" });
        // A path escaping the shared root is refused and ingests nothing.
        await endpoint.Send(new SubmitDocument { Task = TaskNames.Molecule, Path = "../../../etc/passwd" });

        Document? doc = null;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Include(d => d.Pages).FirstOrDefaultAsync(d => d.Task == TaskNames.Molecule));
            return doc?.Status == DocumentStatus.Queued;
        }, TimeSpan.FromSeconds(60)));
        Assert.Equal(Sources.Queue, doc!.Source);
        Assert.Single(doc.Pages);
        Assert.True(File.Exists(Path.Combine(shared, "a.pdf")), "the sender's file is copied, not taken");
        // Both messages consumed (the refused one too) before counting what they ingested.
        Assert.True(await TestServices.WaitForAcksAsync(_host.RabbitUri!, "submit-document", 2, TimeSpan.FromSeconds(60)));
        Assert.Equal(1, await _host.WithDbAsync(db => db.Documents.CountAsync(d => d.Task == TaskNames.Molecule)));
    }

    [Fact]
    public async Task A_document_left_received_by_a_crash_is_announced_again_and_prepared()
    {
        // Simulate a process that committed the row and died before publishing DocumentReceived.
        var blobs = _host.Services.GetRequiredService<IBlobStore>();
        await using var file = File.OpenRead(TestServices.CorpusFile("pdf", "hhline.pdf"));
        var blob = await blobs.PutAsync(file);
        var id = Guid.CreateVersion7();
        await _host.WithDbAsync(async db =>
        {
            db.Documents.Add(new Document
            {
                Id = id, Sha256 = blob.Key, MediaType = "application/pdf", Source = Sources.Api, Task = TaskNames.Report,
                Status = DocumentStatus.Received, ReceivedAt = DateTimeOffset.UtcNow.AddHours(-1), SizeBytes = blob.Size,
            });
            return await db.SaveChangesAsync();
        });

        var recovery = _host.Services.GetRequiredService<RecoveryService>();
        Assert.Equal(1, (await recovery.RecoverAsync(CancellationToken.None)).Republished);
        var docs = await _host.WaitPreparedAsync([id], TimeSpan.FromSeconds(60));
        Assert.Equal(DocumentStatus.Queued, Assert.Single(docs).Status);
        Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", "hhline.pdf")), docs[0].Pages.Count);
    }
}
