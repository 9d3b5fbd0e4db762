using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Storage;

/// <summary>
/// The pipeline's tables. Provider-specific subclasses exist only so that PostgreSQL and SQLite
/// each own a migrations history; the model is the same.
/// </summary>
public abstract class DocPipelineDbContext(DbContextOptions options) : DbContext(options)
{
    /// <summary>Accepted files.</summary>
    public DbSet<Document> Documents => Set<Document>();

    /// <summary>Pages and frames.</summary>
    public DbSet<Page> Pages => Set<Page>();

    /// <summary>Inference jobs.</summary>
    public DbSet<Job> Jobs => Set<Job>();

    /// <summary>Inference results.</summary>
    public DbSet<Result> Results => Set<Result>();

    /// <summary>Checkpoint registry.</summary>
    public DbSet<Checkpoint> Checkpoints => Set<Checkpoint>();

    /// <summary>Draft reports sent back to PACS.</summary>
    public DbSet<ReportDelivery> ReportDeliveries => Set<ReportDelivery>();

    /// <summary>Reviewers' accepted versions of results.</summary>
    public DbSet<ResultCorrection> ResultCorrections => Set<ResultCorrection>();

    /// <summary>Intake feed positions.</summary>
    public DbSet<IntakeCursor> IntakeCursors => Set<IntakeCursor>();

    /// <summary>Column type for JSON documents: jsonb on PostgreSQL, text elsewhere.</summary>
    protected abstract string JsonColumnType { get; }

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var json = JsonColumnType;

        modelBuilder.Entity<Document>(e =>
        {
            e.HasIndex(d => new { d.Sha256, d.Task }).IsUnique();
            e.HasIndex(d => d.Status);
            e.HasIndex(d => new { d.SopInstanceUid, d.Task }).IsUnique().HasFilter("sop_instance_uid IS NOT NULL");
            e.Property(d => d.SopInstanceUid).HasMaxLength(64);
            e.Property(d => d.Sha256).HasMaxLength(64);
            e.Property(d => d.Task).HasMaxLength(32);
            e.Property(d => d.Source).HasMaxLength(16);
            e.Property(d => d.MediaType).HasMaxLength(128);
            e.Property(d => d.FileName).HasMaxLength(512);
            e.Property(d => d.ReasonCode).HasMaxLength(48);
            e.Property(d => d.Status).HasConversion(LowerCase<DocumentStatus>()).HasMaxLength(16);
            e.Property(d => d.Metadata).HasColumnType(json);
            e.HasMany(d => d.Pages).WithOne().HasForeignKey(p => p.DocumentId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Page>(e =>
        {
            e.HasIndex(p => new { p.DocumentId, p.Index }).IsUnique();
            e.Property(p => p.ImageBlobKey).HasMaxLength(64);
            e.Property(p => p.TextLayer).HasColumnType(json);
            e.HasMany(p => p.Jobs).WithOne().HasForeignKey(j => j.PageId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Job>(e =>
        {
            e.HasIndex(j => new { j.PageId, j.Task, j.Checkpoint }).IsUnique();
            e.HasIndex(j => j.DocumentId);
            e.Property(j => j.Task).HasMaxLength(32);
            e.Property(j => j.Checkpoint).HasMaxLength(200);
            e.Property(j => j.Status).HasConversion(LowerCase<JobStatus>()).HasMaxLength(16);
        });

        modelBuilder.Entity<Result>(e =>
        {
            e.HasIndex(r => r.JobId).IsUnique();
            e.HasOne<Job>().WithMany().HasForeignKey(r => r.JobId).OnDelete(DeleteBehavior.Cascade);
            e.Property(r => r.Payload).HasColumnType(json);
            e.Property(r => r.ValidationErrors).HasColumnType(json);
        });

        modelBuilder.Entity<ReportDelivery>(e =>
        {
            e.HasIndex(r => new { r.ResultId, r.Destination }).IsUnique();
            e.HasIndex(r => r.Status);
            e.HasOne<Result>().WithMany().HasForeignKey(r => r.ResultId).OnDelete(DeleteBehavior.Cascade);
            e.Property(r => r.Destination).HasMaxLength(200);
            e.Property(r => r.SrSopInstanceUid).HasMaxLength(64);
            e.Property(r => r.SrSeriesInstanceUid).HasMaxLength(64);
            e.Property(r => r.Status).HasConversion(LowerCase<DeliveryStatus>()).HasMaxLength(16);
        });

        modelBuilder.Entity<ResultCorrection>(e =>
        {
            e.HasIndex(c => new { c.ResultId, c.ReviewedAt });
            e.HasIndex(c => c.Task);
            e.HasOne<Result>().WithMany().HasForeignKey(c => c.ResultId).OnDelete(DeleteBehavior.Cascade);
            e.Property(c => c.Task).HasMaxLength(32);
            e.Property(c => c.ReviewedBy).HasMaxLength(200);
            e.Property(c => c.Payload).HasColumnType(json);
        });

        modelBuilder.Entity<IntakeCursor>(e =>
        {
            e.HasKey(c => c.Name);
            e.Property(c => c.Name).HasMaxLength(300);
        });

        modelBuilder.Entity<Checkpoint>(e =>
        {
            e.HasIndex(c => new { c.Name, c.Version }).IsUnique();
            e.HasIndex(c => c.Task);
        });
    }

    private static ValueConverter<T, string> LowerCase<T>() where T : struct, Enum =>
        new(v => v.ToString().ToLowerInvariant(), v => Enum.Parse<T>(v, ignoreCase: true));
}

/// <summary>PostgreSQL flavour (distributed mode).</summary>
public sealed class PostgresDocPipelineDbContext(DbContextOptions<PostgresDocPipelineDbContext> options)
    : DocPipelineDbContext(options)
{
    /// <inheritdoc />
    protected override string JsonColumnType => "jsonb";
}

/// <summary>SQLite flavour (embedded mode).</summary>
public sealed class SqliteDocPipelineDbContext(DbContextOptions<SqliteDocPipelineDbContext> options)
    : DocPipelineDbContext(options)
{
    /// <inheritdoc />
    protected override string JsonColumnType => "TEXT";
}
