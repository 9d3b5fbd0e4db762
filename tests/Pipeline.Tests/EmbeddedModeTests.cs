using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>The same flow in one process: in-memory bus, SQLite file, local blob folder.</summary>
public sealed class EmbeddedModeTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartEmbeddedAsync("embedded");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Dropped_pdfs_are_prepared_in_one_process_on_sqlite()
    {
        string[] names = ["ltxtable.pdf", "upref.pdf", DamagedPdfs.ContentFuzzed];
        foreach (var n in names)
        {
            _host.Drop(TestServices.CorpusFile("pdf", n), TaskNames.Table);
        }

        List<Document> docs = [];
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Include(d => d.Pages).ToListAsync());
            return docs.Count == names.Length && docs.All(d => d.Status is DocumentStatus.Queued or DocumentStatus.Failed);
        }, TimeSpan.FromSeconds(60)));

        Assert.IsType<SqliteDocPipelineDbContext>(await _host.WithDbAsync(db => Task.FromResult<object>(db)));
        Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", "ltxtable.pdf")), docs.Single(d => d.FileName == "ltxtable.pdf").Pages.Count);
        Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", "upref.pdf")), docs.Single(d => d.FileName == "upref.pdf").Pages.Count);
        var bad = docs.Single(d => d.FileName == DamagedPdfs.ContentFuzzed);
        Assert.Equal(DocumentStatus.Failed, bad.Status);
        Assert.Contains("renderer", bad.Error, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_host.Root, "docpipe.db")));
    }

    [Fact]
    public void MassTransit_usage_telemetry_is_off()
    {
        var options = _host.Services.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value;
        Assert.False(options.Enabled);
    }
}
